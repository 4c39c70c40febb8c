using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Tasks;

namespace Proofsheet.Posts;

/// <summary>
/// Finds or creates the draft post for a task, under <c>Posts:DuplicateSlugPolicy</c>. The unique
/// index on slug decides races: a losing insert is rolled back and the decision made again, so
/// concurrent tasks with one title never fail and never make two posts for one slug.
/// </summary>
public sealed class PostReserver(IOptionsMonitor<PostOptions> options, ILogger<PostReserver> logger)
{
    private const int MaxAttempts = 200;

    /// <summary>
    /// Within <paramref name="db"/> (not yet saved): points <paramref name="task"/> at its post,
    /// adding or updating the post as the policy says. The caller saves; on a unique violation it
    /// calls again with a fresh context and <paramref name="attempt"/> + 1.
    /// </summary>
    public async Task AttachAsync(AppDbContext db, ContentTask task, int attempt, CancellationToken ct)
    {
        if (attempt >= MaxAttempts)
        {
            throw new InvalidOperationException("Could not reserve a slug for the post after many attempts.");
        }

        // A retried or re-executed task finds the post it already made.
        var own = task.PostId is null
            ? await db.Posts.FirstOrDefaultAsync(p => p.TaskId == task.Id, ct)
            : await db.Posts.FirstOrDefaultAsync(p => p.Id == task.PostId, ct);
        if (own is not null)
        {
            Attach(task, own);
            return;
        }

        var baseSlug = Slug.From(task.Title, task.Id);
        var existing = await db.Posts.FirstOrDefaultAsync(p => p.Slug == baseSlug, ct);
        if (existing is null)
        {
            Insert(db, task, baseSlug);
            return;
        }

        switch (options.CurrentValue.DuplicateSlugPolicy)
        {
            case DuplicateSlugPolicy.Reuse:
                Attach(task, existing);
                break;
            case DuplicateSlugPolicy.Update:
                if (existing.Status == PostStatus.Draft)
                {
                    // Published fields change only when this task is approved.
                    CopyDraft(task, existing);
                }
                Attach(task, existing);
                break;
            case DuplicateSlugPolicy.Suffix:
                var taken = await db.Posts
                    .Where(p => p.Slug.StartsWith(baseSlug.Length > Slug.MaxLength - 4 ? baseSlug.Substring(0, Slug.MaxLength - 4) : baseSlug))
                    .Select(p => p.Slug)
                    .ToListAsync(ct);
                var next = 2;
                while (taken.Contains(Slug.WithSuffix(baseSlug, next)))
                {
                    next++;
                }
                // Past a few lost races, jump ahead so that racers stop colliding on the same number.
                if (attempt > 5)
                {
                    next += Random.Shared.Next(attempt);
                }
                Insert(db, task, Slug.WithSuffix(baseSlug, next));
                break;
        }
        logger.LogDebug("Task {TaskId}: slug {Slug} exists, policy {Policy}", task.Id, baseSlug, options.CurrentValue.DuplicateSlugPolicy);
    }

    private static void Insert(AppDbContext db, ContentTask task, string slug)
    {
        var now = DateTime.UtcNow;
        var post = new Post
        {
            Id = Ids.New(),
            Slug = slug,
            Title = task.Title ?? slug,
            TaskId = task.Id,
            CreatedAt = now,
            UpdatedAt = now,
        };
        CopyDraft(task, post);
        db.Posts.Add(post);
        Attach(task, post);
    }

    private static void CopyDraft(ContentTask task, Post post)
    {
        post.Title = task.Title ?? post.Title;
        post.Excerpt = task.Excerpt;
        post.Content = task.Content;
        post.MetaDescription = task.MetaDescription;
        post.FeaturedImageAlt = task.ImageAlt;
    }

    private static void Attach(ContentTask task, Post post)
    {
        task.PostId = post.Id;
        task.Slug = post.Slug;
    }
}
