using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;
using Proofsheet.Tasks;

namespace Proofsheet.Review;

/// <summary>What a review link's holder may do now.</summary>
public enum ReviewLinkState
{
    Open,
    Used,
    Expired,
    Revoked,
}

/// <summary>A link as its maker sees it (never its token).</summary>
public sealed record ReviewLinkResponse(
    string Id, string TaskId, string Label, DateTime CreatedAt, string CreatedBy, DateTime ExpiresAt, DateTime? RevokedAt, DateTime? UsedAt,
    string? Decision, string State);

/// <summary>A new link: the only time its address is shown.</summary>
public sealed record CreatedReviewLinkResponse(string Id, string Url, DateTime ExpiresAt, string Label);

/// <summary>
/// Making, listing, revoking and using review links. The token is 256 random bits, base64url; the
/// database keeps its SHA-256, so a copy of the database grants nothing. Every check of a token is
/// against the database (any node can serve a link), and using one is saved in the same transaction
/// as the decision, guarded by the link's own concurrency token: once, even when two tabs press at once.
/// </summary>
public sealed class ReviewLinks(IDbContextFactory<AppDbContext> dbs, TaskActions actions, TimeProvider time)
{
    public const int MinHours = 1;
    public const int MaxHours = 24 * 30;
    public const int MaxLabel = 80;

    /// <summary>Statuses in which there is something to decide on (or soon will be).</summary>
    private static readonly WorkflowStatus[] Reviewable =
        [WorkflowStatus.Queued, WorkflowStatus.Writing, WorkflowStatus.GeneratingImages, WorkflowStatus.AwaitingApproval, WorkflowStatus.Failed];

    public static string Actor(string label) => $"via review link ({label})";

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>A token's shape: 43 base64url characters. Anything else is refused before the database is asked.</summary>
    public static bool LooksLikeToken(string? token) =>
        token is { Length: 43 } && token.All(c => c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '-' or '_');

    public async Task<(Outcome Outcome, ReviewLink? Link, string? Token)> CreateAsync(string taskId, int hours, string? label, string actor, CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        var task = await db.Tasks.AsNoTracking().SingleOrDefaultAsync(t => t.Id == taskId, ct);
        if (task is null)
        {
            return (Outcome.NotFound($"There is no task {taskId}."), null, null);
        }
        if (!Reviewable.Contains(task.Status))
        {
            return (Outcome.Conflict($"A task that is {task.Status.ToWire()} has nothing left to review."), null, null);
        }
        var token = Base64Url(RandomNumberGenerator.GetBytes(32));
        var now = time.GetUtcNow().UtcDateTime;
        var link = new ReviewLink
        {
            Id = Ids.New(),
            TaskId = taskId,
            Label = string.IsNullOrWhiteSpace(label) ? "review link" : label.Trim(),
            TokenHash = Hash(token),
            CreatedBy = actor,
            CreatedAt = now,
            ExpiresAt = now.AddHours(hours),
        };
        db.ReviewLinks.Add(link);
        db.Record(task, "review_link_created", actor, $"{link.Label}, valid until {link.ExpiresAt:yyyy-MM-dd HH:mm} UTC");
        await db.SaveChangesAsync(ct);
        return (Outcome.Done, link, token);
    }

    public async Task<List<ReviewLink>> ListAsync(string taskId, CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        return await db.ReviewLinks.AsNoTracking().Where(l => l.TaskId == taskId).OrderByDescending(l => l.Id).ToListAsync(ct);
    }

    public async Task<(Outcome Outcome, ReviewLink? Link)> RevokeAsync(string taskId, string linkId, string actor, CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        var link = await db.ReviewLinks.SingleOrDefaultAsync(l => l.Id == linkId && l.TaskId == taskId, ct);
        if (link is null)
        {
            return (Outcome.NotFound($"Task {taskId} has no review link {linkId}."), null);
        }
        if (link.RevokedAt is null)
        {
            link.RevokedAt = time.GetUtcNow().UtcDateTime;
            var task = await db.Tasks.AsNoTracking().SingleAsync(t => t.Id == taskId, ct);
            db.Record(task, "review_link_revoked", actor, link.Label);
            await db.SaveChangesAsync(ct);
        }
        return (Outcome.Done, link);
    }

    /// <summary>The link a token names, whatever its state; null for a token that was never made.</summary>
    public async Task<ReviewLink?> FindAsync(string? token, CancellationToken ct)
    {
        if (!LooksLikeToken(token))
        {
            return null;
        }
        var hash = Hash(token!);
        await using var db = await dbs.CreateDbContextAsync(ct);
        return await db.ReviewLinks.AsNoTracking().SingleOrDefaultAsync(l => l.TokenHash == hash, ct);
    }

    public ReviewLinkState StateOf(ReviewLink link) =>
        link.RevokedAt is not null ? ReviewLinkState.Revoked
        : link.UsedAt is not null ? ReviewLinkState.Used
        : link.ExpiresAt <= time.GetUtcNow().UtcDateTime ? ReviewLinkState.Expired
        : ReviewLinkState.Open;

    public Task<Outcome> ApproveAsync(ReviewLink link, string imageId, CancellationToken ct) =>
        actions.ApproveAsync(link.TaskId, new ImageChoice(imageId, null), null, Actor(link.Label), ct, guard: (db, task) => UseAsync(db, task, link, "approved", ct));

    public Task<Outcome> RejectAsync(ReviewLink link, string reason, CancellationToken ct) =>
        actions.RejectAsync(link.TaskId, reason, null, Actor(link.Label), ct, guard: (db, task) => UseAsync(db, task, link, "rejected", ct));

    /// <summary>Marks the link used inside the decision's unit of work; refuses a link that is no longer open.</summary>
    private async Task<Outcome> UseAsync(AppDbContext db, ContentTask task, ReviewLink link, string decision, CancellationToken ct)
    {
        var current = await db.ReviewLinks.SingleAsync(l => l.Id == link.Id, ct);
        var state = StateOf(current);
        if (state != ReviewLinkState.Open)
        {
            return Outcome.Conflict(state == ReviewLinkState.Used ? $"This link was already used: the draft was {current.Decision}." : "This link is no longer valid.");
        }
        if (task.Status != WorkflowStatus.AwaitingApproval)
        {
            return Outcome.Conflict(task.Status == WorkflowStatus.GeneratingImages
                ? "The images are still being made; try again in a moment."
                : "This draft is no longer waiting for a decision.");
        }
        current.UsedAt = time.GetUtcNow().UtcDateTime;
        current.Decision = decision;
        return Outcome.Done;
    }

    public ReviewLinkResponse ToResponse(ReviewLink l) =>
        new(l.Id, l.TaskId, l.Label, l.CreatedAt, l.CreatedBy, l.ExpiresAt, l.RevokedAt, l.UsedAt, l.Decision, StateOf(l).ToString().ToLowerInvariant());

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
