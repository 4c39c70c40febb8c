using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Proofsheet.Auth;
using Proofsheet.Cluster;
using Proofsheet.Images;
using Proofsheet.Posts;
using Proofsheet.Tasks;
using Proofsheet.Webhooks;

namespace Proofsheet.Data;

/// <summary>
/// The one model, shared by both providers. Each provider has a derived context type
/// (below) so that its hand-written migrations can be told apart.
/// </summary>
public class AppDbContext(DbContextOptions options) : DbContext(options), IDataProtectionKeyContext
{
    /// <summary>This process's node id, written on every task event it records.</summary>
    public string? NodeId { get; init; }

    public DbSet<ContentTask> Tasks => Set<ContentTask>();
    public DbSet<TaskEvent> TaskEvents => Set<TaskEvent>();
    public DbSet<Post> Posts => Set<Post>();
    public DbSet<PostRedirect> PostRedirects => Set<PostRedirect>();
    public DbSet<ImageCandidate> Images => Set<ImageCandidate>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<People.Person> People => Set<People.Person>();
    public DbSet<People.PersonSession> Sessions => Set<People.PersonSession>();
    public DbSet<People.Invitation> Invitations => Set<People.Invitation>();
    public DbSet<Email.EmailMessage> EmailOutbox => Set<Email.EmailMessage>();
    public DbSet<WebhookDelivery> WebhookDeliveries => Set<WebhookDelivery>();
    public DbSet<AppSetting> Settings => Set<AppSetting>();
    public DbSet<Node> Nodes => Set<Node>();
    public DbSet<RateCounter> RateCounters => Set<RateCounter>();
    public DbSet<Review.ReviewLink> ReviewLinks => Set<Review.ReviewLink>();
    /// <summary>The Hub's cookie and antiforgery keys, shared by every node (ASP.NET Core Data Protection).</summary>
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    // Listed, not found by ApplyConfigurationsFromAssembly: that loads every type of the app to look,
    // and with them the OpenAI, Anthropic and Polly assemblies an app without those backends never
    // needs (start-up time and memory). A unit test checks that this list names every configuration.
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        foreach (var configuration in Configurations)
        {
            configuration(modelBuilder);
        }
    }

    internal static readonly Action<ModelBuilder>[] Configurations =
    [
        b => b.ApplyConfiguration(new ContentTaskConfiguration()),
        b => b.ApplyConfiguration(new TaskEventConfiguration()),
        b => b.ApplyConfiguration(new PostConfiguration()),
        b => b.ApplyConfiguration(new PostRedirectConfiguration()),
        b => b.ApplyConfiguration(new ImageCandidateConfiguration()),
        b => b.ApplyConfiguration(new ApiKeyConfiguration()),
        b => b.ApplyConfiguration(new PersonConfiguration()),
        b => b.ApplyConfiguration(new PersonSessionConfiguration()),
        b => b.ApplyConfiguration(new InvitationConfiguration()),
        b => b.ApplyConfiguration(new EmailMessageConfiguration()),
        b => b.ApplyConfiguration(new WebhookDeliveryConfiguration()),
        b => b.ApplyConfiguration(new AppSettingConfiguration()),
        b => b.ApplyConfiguration(new NodeConfiguration()),
        b => b.ApplyConfiguration(new RateCounterConfiguration()),
        b => b.ApplyConfiguration(new ReviewLinkConfiguration()),
        b => b.ApplyConfiguration(new DataProtectionKeyConfiguration()),
    ];

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // SQLite hands DateTimes back as Unspecified; everything here is UTC.
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcConverter>();
        configurationBuilder.Properties<DateTime?>().HaveConversion<UtcConverter>();
    }

    public override int SaveChanges(bool acceptAllChangesOnSuccess)
    {
        Stamp();
        return base.SaveChanges(acceptAllChangesOnSuccess);
    }

    public override Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        Stamp();
        return base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
    }

    /// <summary>Application-managed concurrency tokens, the same on both providers.</summary>
    private void Stamp()
    {
        var now = DateTime.UtcNow;
        foreach (var entry in ChangeTracker.Entries())
        {
            switch (entry.Entity)
            {
                case ContentTask task when entry.State == EntityState.Modified:
                    task.Version++;
                    task.UpdatedAt = now;
                    break;
                case TaskEvent taskEvent when entry.State == EntityState.Added:
                    taskEvent.Node ??= NodeId;
                    break;
                case Post post when entry.State == EntityState.Modified:
                    post.Version++;
                    post.UpdatedAt = now;
                    break;
            }
        }
    }

    private sealed class UtcConverter() : ValueConverter<DateTime, DateTime>(
        v => v.Kind == DateTimeKind.Utc ? v : v.ToUniversalTime(),
        v => DateTime.SpecifyKind(v, DateTimeKind.Utc));
}

public sealed class SqliteAppDbContext(DbContextOptions<SqliteAppDbContext> options) : AppDbContext(options);

public sealed class PostgresAppDbContext(DbContextOptions<PostgresAppDbContext> options) : AppDbContext(options);

internal sealed class ContentTaskConfiguration : IEntityTypeConfiguration<ContentTask>
{
    public void Configure(EntityTypeBuilder<ContentTask> b)
    {
        b.ToTable("tasks");
        b.HasKey(t => t.Id);
        b.Property(t => t.Status).HasConversion(s => s.ToWire(), s => WorkflowStatuses.Parse(s));
        b.Property(t => t.FailedStatus).HasConversion(s => s!.Value.ToWire(), s => WorkflowStatuses.Parse(s));
        b.Property(t => t.Version).IsConcurrencyToken();
        b.HasIndex(t => new { t.Status, t.NextAttemptAt });
        b.HasIndex(t => t.CreatedAt);
        // The Hub's task list filtered by status (keyset on Id) and its review queue (UpdatedAt, Id).
        b.HasIndex(t => new { t.Status, t.Id });
        b.HasIndex(t => new { t.Status, t.UpdatedAt, t.Id });
        b.HasIndex(t => t.PostId);
        b.HasIndex(t => t.LeaseOwner);
        b.HasIndex(t => t.AssigneeId);
    }
}

internal sealed class TaskEventConfiguration : IEntityTypeConfiguration<TaskEvent>
{
    public void Configure(EntityTypeBuilder<TaskEvent> b)
    {
        b.ToTable("task_events");
        b.HasKey(e => e.Id);
        b.HasIndex(e => new { e.TaskId, e.Id });
    }
}

internal sealed class PostConfiguration : IEntityTypeConfiguration<Post>
{
    public void Configure(EntityTypeBuilder<Post> b)
    {
        b.ToTable("posts");
        b.HasKey(p => p.Id);
        // The unique index is what makes duplicate titles safe under concurrency.
        b.HasIndex(p => p.Slug).IsUnique();
        b.HasIndex(p => p.TaskId);
        b.HasIndex(p => new { p.Status, p.PublishedAt });
        b.Property(p => p.Version).IsConcurrencyToken();
    }
}

internal sealed class ImageCandidateConfiguration : IEntityTypeConfiguration<ImageCandidate>
{
    public void Configure(EntityTypeBuilder<ImageCandidate> b)
    {
        b.ToTable("image_candidates");
        b.HasKey(i => i.Id);
        b.Property(i => i.Status).HasConversion(s => s.ToWire(), s => Enum.Parse<CandidateStatus>(s, true));
        b.Ignore(i => i.Focus);
        // Seeds run 0..2^64-1 (ComfyUI's range); the column keeps the same 64 bits as a signed number, so
        // no column changed and every seed stored before (all below 2^63) reads back as it was.
        b.Property(i => i.Seed).HasConversion(s => s.HasValue ? unchecked((long)s.Value) : (long?)null, s => s.HasValue ? unchecked((ulong)s.Value) : null);
        b.HasIndex(i => new { i.TaskId, i.Variation }).IsUnique();
        b.HasIndex(i => new { i.Status, i.GeneratedAt });
    }
}

internal sealed class ApiKeyConfiguration : IEntityTypeConfiguration<ApiKey>
{
    public void Configure(EntityTypeBuilder<ApiKey> b)
    {
        b.ToTable("api_keys");
        b.HasKey(k => k.Id);
        b.HasIndex(k => k.Hash).IsUnique();
    }
}
