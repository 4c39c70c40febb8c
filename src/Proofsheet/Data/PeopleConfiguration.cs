using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Proofsheet.Email;
using Proofsheet.People;

namespace Proofsheet.Data;

internal sealed class PersonConfiguration : IEntityTypeConfiguration<Person>
{
    public void Configure(EntityTypeBuilder<Person> b)
    {
        b.ToTable("people");
        b.HasKey(p => p.Id);
        b.HasIndex(p => p.Email).IsUnique();
    }
}

internal sealed class PersonSessionConfiguration : IEntityTypeConfiguration<PersonSession>
{
    public void Configure(EntityTypeBuilder<PersonSession> b)
    {
        b.ToTable("sessions");
        b.HasKey(s => s.Id);
        b.HasIndex(s => s.PersonId);
    }
}

internal sealed class InvitationConfiguration : IEntityTypeConfiguration<Invitation>
{
    public void Configure(EntityTypeBuilder<Invitation> b)
    {
        b.ToTable("invitations");
        b.HasKey(i => i.Id);
        b.HasIndex(i => i.TokenHash).IsUnique();
    }
}

internal sealed class EmailMessageConfiguration : IEntityTypeConfiguration<EmailMessage>
{
    public void Configure(EntityTypeBuilder<EmailMessage> b)
    {
        b.ToTable("email_outbox");
        b.HasKey(m => m.Id);
        // The sender's query: what is due, oldest first. Sent and given-up rows have no next attempt.
        b.HasIndex(m => m.NextAttemptAt);
    }
}
