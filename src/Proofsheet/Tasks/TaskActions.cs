using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.Posts;
using Proofsheet.Publishing;
using Proofsheet.Webhooks;

namespace Proofsheet.Tasks;

/// <summary>
/// Reviewers' actions on a task, shared by the API and the Oversight Hub. Each reads the row,
/// checks the status allows the action, and saves under the row's concurrency token, so two
/// people acting at once cannot both win.
/// </summary>
public sealed partial class TaskActions(
    IDbContextFactory<AppDbContext> dbs,
    TaskQueue queue,
    TaskEventStream stream,
    IPreviewStore previews,
    IOptionsMonitor<ImageOptions> imageOptions,
    IOptionsMonitor<PipelineOptions> pipelineOptions,
    PublishedPostsChanged postsChanged,
    Publishing.PublishedCopies publishedCopies,
    WebhookOutbox webhooks,
    WebhookSignal webhookSignal,
    PublicUrls urls,
    Writing.ActiveWriter writer,
    Email.Notifier notifier)
{
    private static readonly WorkflowStatus[] Reviewable = [WorkflowStatus.AwaitingApproval, WorkflowStatus.GeneratingImages];

    public async Task<(Outcome Outcome, ContentTask? Task)> CreateAsync(
        string topic, string? tone, string? audience, int targetWords, int variations, string? imageSource, string actor, CancellationToken ct,
        string? createdBy = null)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        var now = DateTime.UtcNow;
        var task = new ContentTask
        {
            Id = Ids.New(),
            Topic = topic,
            Tone = tone,
            Audience = audience,
            TargetWords = targetWords,
            NumVariations = variations,
            ImageSource = imageSource,
            CreatedBy = createdBy,
            Status = WorkflowStatus.Queued,
            CreatedAt = now,
            UpdatedAt = now,
        };
        db.Tasks.Add(task);
        db.Record(task, "created", actor, topic);
        await db.SaveAndAnnounceAsync(stream, ct);
        queue.Enqueue(task.Id);
        return (Outcome.Done, task);
    }

    /// <param name="expectedStamp">The <see cref="DraftStamp"/> of the draft the editor started from; when given and the
    /// draft has changed since, the edit is refused so that neither version silently overwrites the other.</param>
    public async Task<Outcome> EditAsync(string taskId, TaskEdits edits, string actor, CancellationToken ct, string? expectedStamp = null)
    {
        var live = false;
        // Public pages skip their cache until a change to the live post is announced (see PostCache).
        using var changing = postsChanged.Hold();
        var outcome = await MutateAsync(taskId, async (db, task) =>
        {
            if (expectedStamp is not null && expectedStamp != DraftStamp.Of(task))
            {
                return new Outcome(OutcomeKind.Conflict, "Someone else saved this draft while you were editing it.", DraftStamp.StaleField);
            }
            if (task.Status is not (WorkflowStatus.GeneratingImages or WorkflowStatus.AwaitingApproval or WorkflowStatus.Failed or WorkflowStatus.Scheduled or WorkflowStatus.Published))
            {
                return Outcome.Conflict($"A task that is {task.Status.ToWire()} cannot be edited; edits are possible once the draft is written, and on the live post once it is published.");
            }
            var post = task.PostId is null ? null : await db.Posts.SingleOrDefaultAsync(p => p.Id == task.PostId, ct);
            var changed = new List<string>();
            void Set(string name, string? value, Func<string?> get, Action<string> set)
            {
                if (value is not null && value != get())
                {
                    set(value);
                    changed.Add(name);
                }
            }
            Set("title", edits.Title, () => task.Title, v => task.Title = v);
            Set("excerpt", edits.Excerpt, () => task.Excerpt, v => task.Excerpt = v);
            Set("content", edits.Content, () => task.Content, v => task.Content = v);
            Set("image_prompt", edits.ImagePrompt, () => task.ImagePrompt, v => task.ImagePrompt = v);
            Set("image_alt", edits.ImageAlt, () => task.ImageAlt, v => task.ImageAlt = v);
            Set("meta_description", edits.MetaDescription, () => task.MetaDescription, v => task.MetaDescription = v);
            if (edits.Slug is not null && edits.Slug != task.Slug)
            {
                if (post is null)
                {
                    return Outcome.Conflict("The post's address can be changed once the draft is written.");
                }
                var taken = await db.Posts.AnyAsync(p => p.Slug == edits.Slug && p.Id != post.Id, ct)
                    || await db.PostRedirects.AnyAsync(r => r.Slug == edits.Slug && r.PostId != post.Id, ct);
                if (taken)
                {
                    return Outcome.Conflict($"Another post already uses the address /posts/{edits.Slug}.");
                }
                // Its own earlier address becomes its current one again; the one it leaves answers 301.
                var reclaimed = await db.PostRedirects.SingleOrDefaultAsync(r => r.Slug == edits.Slug, ct);
                if (reclaimed is not null)
                {
                    db.PostRedirects.Remove(reclaimed);
                }
                if (post.PublishedAt is not null && !await db.PostRedirects.AnyAsync(r => r.Slug == post.Slug, ct))
                {
                    db.PostRedirects.Add(new PostRedirect { Slug = post.Slug, PostId = post.Id, CreatedAt = DateTime.UtcNow });
                }
                post.Slug = edits.Slug;
                task.Slug = edits.Slug;
                changed.Add("slug");
            }
            if (changed.Count > 0)
            {
                db.Record(task, "edited", actor, string.Join(", ", changed));
            }
            if (task.Status == WorkflowStatus.Published && post is not null && changed.Count > 0)
            {
                // The live post changes at once.
                post.Title = task.Title ?? post.Title;
                post.Excerpt = task.Excerpt;
                post.Content = task.Content;
                post.MetaDescription = task.MetaDescription;
                post.FeaturedImageAlt = task.ImageAlt;
                live = true;
            }
            return Outcome.Done;
        }, ct);
        if (outcome.Kind == OutcomeKind.Ok && live)
        {
            await postsChanged.AnnounceAsync();
        }
        return outcome;
    }

    private async Task<Outcome> MutateAsync(string taskId, Func<AppDbContext, ContentTask, Task<Outcome>> change, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            await using var db = await dbs.CreateDbContextAsync(ct);
            var task = await db.Tasks.SingleOrDefaultAsync(t => t.Id == taskId, ct);
            if (task is null)
            {
                return Outcome.NotFound($"There is no task {taskId}.");
            }
            var outcome = await change(db, task);
            if (outcome.Kind != OutcomeKind.Ok)
            {
                return outcome;
            }
            try
            {
                await db.SaveAndAnnounceAsync(stream, ct);
                return outcome;
            }
            catch (DbUpdateConcurrencyException)
            {
                // Someone else changed the task first: decide again on what they left.
            }
            catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
            {
                // Two posts reaching for the same new address at once: the unique index decides, the loser is told.
                return Outcome.Conflict("Another post took that address (slug) at the same moment; choose another.");
            }
        }
        return Outcome.Conflict("The task kept changing; try again.");
    }

    private static async Task<(Outcome, ImageCandidate?)> FindCandidateAsync(AppDbContext db, ContentTask task, ImageChoice choice, CancellationToken ct)
    {
        var query = db.Images.Where(i => i.TaskId == task.Id);
        var candidate = choice.ImageId is not null
            ? await query.SingleOrDefaultAsync(i => i.Id == choice.ImageId, ct)
            : await query.SingleOrDefaultAsync(i => i.Variation == choice.Index, ct);
        if (candidate is null)
        {
            return (choice.ImageId is not null
                ? Outcome.Invalid("image_id", $"Task {task.Id} has no image {choice.ImageId}.")
                : Outcome.Invalid("index", $"Task {task.Id} has no image with index {choice.Index}."), null);
        }
        if (candidate.Status == CandidateStatus.Discarded)
        {
            return (Outcome.Conflict($"Image {candidate.Variation} was discarded."), null);
        }
        return (Outcome.Done, candidate);
    }

    private static async Task MarkSelectedAsync(AppDbContext db, ContentTask task, ImageCandidate candidate, CancellationToken ct)
    {
        var previous = await db.Images.Where(i => i.TaskId == task.Id && i.Status == CandidateStatus.Selected && i.Id != candidate.Id).ToListAsync(ct);
        previous.ForEach(p => p.Status = CandidateStatus.Preview);
        candidate.Status = CandidateStatus.Selected;
        task.SelectedImageId = candidate.Id;
    }

    /// <summary>Moves a task's open candidates to the trash, files kept (reopening the task restores them).</summary>
    private static async Task TrashPreviewsAsync(AppDbContext db, ContentTask task, CancellationToken ct)
    {
        var images = await db.Images
            .Where(i => i.TaskId == task.Id && (i.Status == CandidateStatus.Preview || i.Status == CandidateStatus.Selected))
            .ToListAsync(ct);
        var now = DateTime.UtcNow;
        foreach (var image in images)
        {
            image.Status = CandidateStatus.Discarded;
            image.TrashedAt = now;
        }
    }

    private static async Task<List<string>> DiscardPreviewsAsync(AppDbContext db, ContentTask task, CancellationToken ct)
    {
        var images = await db.Images
            .Where(i => i.TaskId == task.Id && (i.Status == CandidateStatus.Preview || i.Status == CandidateStatus.Selected))
            .ToListAsync(ct);
        foreach (var image in images)
        {
            image.Status = CandidateStatus.Discarded;
            image.FileDeleted = true;
        }
        return images.Select(i => i.FileName).ToList();
    }

    private async Task DeleteFilesAsync(IEnumerable<string> fileNames)
    {
        foreach (var name in fileNames)
        {
            await previews.DeleteAsync(name, CancellationToken.None);
        }
    }
}
