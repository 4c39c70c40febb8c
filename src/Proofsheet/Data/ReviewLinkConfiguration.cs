using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Proofsheet.Review;

namespace Proofsheet.Data;

internal sealed class ReviewLinkConfiguration : IEntityTypeConfiguration<ReviewLink>
{
    public void Configure(EntityTypeBuilder<ReviewLink> b)
    {
        b.ToTable("review_links");
        b.HasKey(l => l.Id);
        b.HasIndex(l => l.TokenHash).IsUnique();
        b.HasIndex(l => l.TaskId);
        b.Property(l => l.UsedAt).IsConcurrencyToken();
    }
}
