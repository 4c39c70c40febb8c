using System.Diagnostics;
using Proofsheet.Telemetry;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.Posts;
using Proofsheet.Tasks;
using Proofsheet.Webhooks;

namespace Proofsheet.Publishing;

/// <summary>
/// The publish step of an approved task: upload the selected image to the publishing store,
/// then in one transaction point the post at the CDN URL and mark post, image and task published.
/// The upload key is deterministic, so a retry after a crash between upload and commit
/// replaces the same asset instead of making a second one.
/// </summary>
public sealed class Publisher(
    IDbContextFactory<AppDbContext> dbs,
    ActiveStore store,
    IPreviewStore previews,
    TaskEventStream stream,
    WebhookOutbox webhooks,
    WebhookSignal webhookSignal,
    PublicUrls urls,
    PublishedPostsChanged postsChanged,
    IOptionsMonitor<StorageOptions> storage,
    ILogger<Publisher> logger)
{
    public async Task PublishAsync(string taskId, CancellationToken ct)
    {
        PublishedAsset asset;
        string candidateId;
        {
            await using var db = await dbs.CreateDbContextAsync(ct);
            var task = await db.Tasks.AsNoTracking().SingleAsync(t => t.Id == taskId, ct);
            if (task.Status != WorkflowStatus.Publishing)
            {
                return;
            }
            var candidate = await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == task.SelectedImageId, ct)
                ?? throw new PublishingException("The approved image no longer exists.", retryable: false);
            var post = await db.Posts.AsNoTracking().SingleOrDefaultAsync(p => p.Id == task.PostId, ct)
                ?? throw new PublishingException("The task has no draft post.", retryable: false);
            candidateId = candidate.Id;

            if (candidate.CdnUrl is not null)
            {
                asset = new PublishedAsset(candidate.CdnUrl);
            }
            else
            {
                stream.Progress(taskId, new ProgressData(0, 1, $"uploading to {store.Store.Name}", "publishing"));
                using (var upload = ProofsheetTelemetry.StartBackendCall("upload", store.Store.Name))
                {
                    var started = Stopwatch.GetTimestamp();
                    var outcome = "ok";
                    try
                    {
                        asset = await UploadAsync(candidate, post.Slug, ct);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
                    {
                        outcome = "failed";
                        ProofsheetTelemetry.Failed(upload, store.Store.Name, ex);
                        throw;
                    }
                    finally
                    {
                        var storeTag = new KeyValuePair<string, object?>("store", store.Store.Name);
                        ProofsheetTelemetry.Uploads.Add(1, storeTag, new KeyValuePair<string, object?>("outcome", outcome));
                        ProofsheetTelemetry.BackendDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds,
                            new KeyValuePair<string, object?>("backend", store.Store.Name), new KeyValuePair<string, object?>("kind", "upload"));
                    }
                }
                if (!Uri.TryCreate(asset.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
                {
                    // A published post never points at a local file.
                    throw new PublishingException("The publishing store returned a URL that is not http(s).", retryable: false);
                }
                // Record the confirmed upload at once: a crash before the publish commits then
                // resumes from here instead of uploading again.
                await db.Images.Where(i => i.Id == candidate.Id)
                    .ExecuteUpdateAsync(u => u.SetProperty(i => i.CdnUrl, asset.Url), CancellationToken.None);
            }
        }

        await CommitAsync(taskId, candidateId, asset, ct);
    }

    /// <summary>The publishing store in use (for metrics and spans).</summary>
    public string StoreName => store.Store.Name;

    /// <summary>A streamed copy from the preview store to the publishing store: the preview is never
    /// needed on this node's disk, so any node can publish what another generated.</summary>
    private async Task<PublishedAsset> UploadAsync(ImageCandidate candidate, string slug, CancellationToken ct)
    {
        PreviewContent? preview;
        try
        {
            preview = candidate.FileDeleted ? null : await previews.OpenAsync(candidate.FileName, ct);
        }
        catch (PreviewStoreException ex)
        {
            throw new PublishingException($"Could not read the approved image from the preview store: {ex.Message}", retryable: true, ex);
        }
        if (preview is null)
        {
            throw new PublishingException($"The preview file of the approved image ({candidate.FileName}) is missing.", retryable: false);
        }
        await using (preview)
        {
            return await store.Store.UploadAsync(
                new PublishRequest(
                    Key: $"{slug}-{candidate.Id[^12..]}",
                    Content: preview.Stream,
                    ContentType: candidate.ContentType,
                    Length: candidate.ByteSize,
                    Sha256: candidate.Sha256),
                ct);
        }
    }

    private async Task CommitAsync(string taskId, string candidateId, PublishedAsset asset, CancellationToken ct)
    {
        // Not cancellable: once the upload is done, recording it is cheap and must not be abandoned.
        while (true)
        {
            await using var db = await dbs.CreateDbContextAsync(CancellationToken.None);
            var task = await db.Tasks.SingleAsync(t => t.Id == taskId, CancellationToken.None);
            if (task.Status != WorkflowStatus.Publishing)
            {
                return;
            }
            var candidate = await db.Images.SingleAsync(i => i.Id == candidateId, CancellationToken.None);
            var post = await db.Posts.SingleAsync(p => p.Id == task.PostId, CancellationToken.None);
            var now = DateTime.UtcNow;

            post.Title = task.Title ?? post.Title;
            post.Excerpt = task.Excerpt;
            post.Content = task.Content;
            post.MetaDescription = task.MetaDescription;
            post.FeaturedImageUrl = asset.Url;
            post.FeaturedImageAlt = task.ImageAlt;
            post.FeaturedImageCredit = candidate.AttributionName;
            post.FeaturedImageCreditUrl = candidate.AttributionUrl;
            post.Status = PostStatus.Published;
            post.PublishedAt ??= now;
            post.TaskId = task.Id;

            candidate.Status = CandidateStatus.Published;
            candidate.CdnUrl = asset.Url;
            task.Error = null;
            task.NextAttemptAt = null;
            db.MoveTo(task, WorkflowStatus.Published, TaskHistory.System, asset.Url);
            // Delivered after, and only if, this transaction commits.
            webhooks.Add(db, new WebhookPost(post.Id, post.Slug, post.Title, urls.Absolute($"/posts/{post.Slug}"), post.FeaturedImageUrl));
            try
            {
                await db.SaveAndAnnounceAsync(stream, CancellationToken.None);
                break;
            }
            catch (DbUpdateConcurrencyException)
            {
                logger.LogDebug("Task {TaskId} changed while publishing; reading it again", taskId);
            }
        }
        await postsChanged.AnnounceAsync();
        webhookSignal.Notify();
        logger.LogInformation("Task {TaskId} published", taskId);
        await CleanUpPreviewAsync(candidateId);
    }

    private async Task CleanUpPreviewAsync(string candidateId)
    {
        if (storage.CurrentValue.KeepPublishedPreviews)
        {
            return;
        }
        await using var db = await dbs.CreateDbContextAsync();
        var candidate = await db.Images.SingleAsync(i => i.Id == candidateId);
        await previews.DeleteAsync(candidate.FileName, CancellationToken.None);
        candidate.FileDeleted = true;
        await db.SaveChangesAsync();
    }
}
