using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.Posts;
using Proofsheet.Webhooks;

namespace Proofsheet.Tasks;

/// <summary>The reviewer's desk: stars, the trash, "more like this", taking a post back, reopening a task.</summary>
public sealed partial class TaskActions
{
    public async Task<Outcome> RateAsync(string imageId, int stars, string actor, CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        // A rating is the last word of whoever gives it: one UPDATE, no read-modify-write to lose.
        var rated = await db.Images.Where(i => i.Id == imageId).ExecuteUpdateAsync(u => u.SetProperty(i => i.Stars, stars), ct);
        if (rated == 0)
        {
            return Outcome.NotFound($"There is no image {imageId}.");
        }
        var image = await db.Images.AsNoTracking().SingleAsync(i => i.Id == imageId, ct);
        if (image.TaskId is not null)
        {
            stream.Publish(image.TaskId, new TaskStreamMessage("image", new { image_id = image.Id, index = image.Variation, stars }));
        }
        return Outcome.Done;
    }

    /// <summary>Takes a candidate out of the trash, while its file is still kept.</summary>
    public async Task<Outcome> RestoreImageAsync(string imageId, string actor, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            await using var db = await dbs.CreateDbContextAsync(ct);
            var image = await db.Images.SingleOrDefaultAsync(i => i.Id == imageId, ct);
            if (image is null)
            {
                return Outcome.NotFound($"There is no image {imageId}.");
            }
            if (image.Status != CandidateStatus.Discarded)
            {
                return Outcome.Done;
            }
            if (image.FileDeleted || !await previews.ExistsAsync(image.FileName, ct))
            {
                return Outcome.Conflict($"Image {image.Variation} was in the trash too long: its file is gone.");
            }
            if (image.TaskId is not null)
            {
                var task = await db.Tasks.SingleAsync(t => t.Id == image.TaskId, ct);
                if (task.Status is not (WorkflowStatus.AwaitingApproval or WorkflowStatus.GeneratingImages or WorkflowStatus.Failed))
                {
                    return Outcome.Conflict($"A task that is {task.Status.ToWire()} takes no images back; reopen it first.");
                }
                db.Record(task, "image_restored", actor, $"Image {image.Variation} back from the trash");
            }
            image.Status = CandidateStatus.Preview;
            image.TrashedAt = null;
            try
            {
                await db.SaveAndAnnounceAsync(stream, ct);
                return Outcome.Done;
            }
            catch (DbUpdateConcurrencyException)
            {
            }
        }
        return Outcome.Conflict("The task kept changing; try again.");
    }

    /// <summary>New candidates from one candidate's prompt and settings (source, size, negative prompt), with new seeds, in the background.</summary>
    public async Task<(Outcome Outcome, string? TaskId)> MoreLikeThisAsync(string imageId, int count, string actor, CancellationToken ct)
    {
        string? taskId;
        await using (var db = await dbs.CreateDbContextAsync(ct))
        {
            var image = await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == imageId, ct);
            if (image is null)
            {
                return (Outcome.NotFound($"There is no image {imageId}."), null);
            }
            if (image.TaskId is null)
            {
                return (Outcome.Conflict("This image belongs to no task; use the media API to generate more."), null);
            }
            taskId = image.TaskId;
            var like = new PendingImageSettings(image.Prompt, image.NegativePrompt, image.Source, image.Width, image.Height);
            var outcome = await GenerateMoreAsync(taskId, count, image.Prompt, actor, ct, like, image.Variation);
            return (outcome, taskId);
        }
    }

    /// <summary>Takes a published post back to draft: public pages and feeds drop it at once, and the task can be approved again.</summary>
    public async Task<Outcome> UnpublishAsync(string taskId, string actor, CancellationToken ct)
    {
        IReadOnlyList<string> copies = [];
        // Public pages skip their cache until the unpublish is announced (see PostCache).
        using var changing = postsChanged.Hold();
        var outcome = await MutateAsync(taskId, async (db, task) =>
        {
            if (task.Status != WorkflowStatus.Published)
            {
                return Outcome.Conflict($"Only a published post can be unpublished; this task is {task.Status.ToWire()}.");
            }
            var post = await db.Posts.SingleAsync(p => p.Id == task.PostId, ct);
            post.Status = PostStatus.Draft;
            // Its web copies leave the store once this commits (a re-publish makes them again, for whichever image);
            // the image itself stays, recorded on its candidate, so approving it again needs no new upload.
            copies = Publishing.PublishedCopies.Of(post);
            post.SocialImageUrl = null;
            post.FeaturedImageSrcset = null;
            var images = await db.Images.Where(i => i.TaskId == task.Id && i.Status == CandidateStatus.Published).ToListAsync(ct);
            images.ForEach(i => i.Status = i.Id == task.SelectedImageId ? CandidateStatus.Selected : CandidateStatus.Preview);
            task.ApprovedAt = null;
            task.ApprovedBy = null;
            db.Record(task, "unpublished", actor, $"/posts/{post.Slug}");
            db.MoveTo(task, WorkflowStatus.AwaitingApproval, actor, "unpublished");
            webhooks.AddPost(db, WebhookOutbox.PostUnpublished, new WebhookPost(post.Id, post.Slug, post.Title, urls.Absolute($"/posts/{post.Slug}"), post.FeaturedImageUrl));
            return Outcome.Done;
        }, ct);
        if (outcome.Kind == OutcomeKind.Ok)
        {
            webhookSignal.Notify();
            await postsChanged.AnnounceAsync();
            changing.Dispose();
            await publishedCopies.DeleteAsync(copies, CancellationToken.None);
        }
        return outcome;
    }

    /// <summary>Brings a rejected task back for review, with the candidates the rejection put in the trash.</summary>
    public async Task<Outcome> ReopenAsync(string taskId, string actor, CancellationToken ct)
    {
        var regenerate = false;
        var outcome = await MutateAsync(taskId, async (db, task) =>
        {
            if (task.Status != WorkflowStatus.Rejected)
            {
                return Outcome.Conflict($"Only a rejected task can be reopened; this one is {task.Status.ToWire()}.");
            }
            var trashed = await db.Images.Where(i => i.TaskId == task.Id && i.Status == CandidateStatus.Discarded && i.TrashedAt != null && !i.FileDeleted)
                .ToListAsync(ct);
            var back = new List<ImageCandidate>();
            foreach (var image in trashed)
            {
                if (await previews.ExistsAsync(image.FileName, ct))
                {
                    back.Add(image);
                }
            }
            foreach (var image in back)
            {
                image.Status = CandidateStatus.Preview;
                image.TrashedAt = null;
            }
            regenerate = back.Count == 0;
            db.Record(task, "reopened", actor, regenerate ? "no images were left: new ones are made" : $"{back.Count} image(s) back from the trash");
            if (regenerate)
            {
                task.ImagesPending = task.NumVariations;
                task.Attempts = 0;
                task.NextAttemptAt = null;
                db.MoveTo(task, WorkflowStatus.GeneratingImages, actor, "reopened");
            }
            else
            {
                db.MoveTo(task, WorkflowStatus.AwaitingApproval, actor, "reopened");
            }
            return Outcome.Done;
        }, ct);
        if (outcome.Kind == OutcomeKind.Ok && regenerate)
        {
            queue.Enqueue(taskId);
        }
        return outcome;
    }
}
