using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.Posts;
using Proofsheet.Tasks;
using Proofsheet.Telemetry;
using Proofsheet.Webhooks;

namespace Proofsheet.Publishing;

/// <summary>
/// The publish step of an approved task: upload the selected image and its derivatives (the
/// social card, responsive WebP copies) to the publishing store, then in one transaction point the post at the CDN URL and mark post, image and task published.
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
    Email.Notifier notifier,
    PublicUrls urls,
    PublishedPostsChanged postsChanged,
    IOptionsMonitor<StorageOptions> storage,
    TimeProvider time,
    ILogger<Publisher> logger)
{
    public async Task PublishAsync(string taskId, CancellationToken ct)
    {
        PublishedAsset asset;
        WebCopies? copies;
        string candidateId;
        DateTime? publishAt;
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
            publishAt = task.PublishAt;
            var key = $"{post.Slug}-{candidate.Id[^12..]}";

            // Read once: the original is uploaded from these bytes and the derivatives are made from them.
            var original = await ReadPreviewAsync(candidate, required: candidate.CdnUrl is null, ct);
            if (candidate.CdnUrl is not null)
            {
                asset = new PublishedAsset(candidate.CdnUrl);
            }
            else
            {
                stream.Progress(taskId, new ProgressData(0, 1, $"uploading to {store.Store.Name}", "publishing"));
                asset = await UploadAsync(new EncodedImage(original!, candidate.ContentType, candidate.Width, candidate.Height), key, candidate.Sha256, ct);
                // Record the confirmed upload at once: a crash before the publish commits then
                // resumes from here instead of uploading again.
                await db.Images.Where(i => i.Id == candidate.Id)
                    .ExecuteUpdateAsync(u => u.SetProperty(i => i.CdnUrl, asset.Url), CancellationToken.None);
            }
            copies = await MakeCopiesAsync(original, asset, candidate, key, ct);
        }

        // A post approved for later waits with its image uploaded, so a failing store shows at approval, not at the time.
        if (publishAt is { } at && at > time.GetUtcNow().UtcDateTime)
        {
            await ScheduleAsync(taskId, candidateId, asset, copies);
            return;
        }
        await CommitAsync(taskId, candidateId, asset, copies, ct);
    }

    /// <summary>What the public page shows in place of the original: the social card, the hero crops (WebP srcset) and the largest crop's size.</summary>
    private sealed record WebCopies(string SocialImageUrl, string Srcset, int HeroWidth, int HeroHeight);

    /// <summary>
    /// The web copies of the published image. A store that crops on delivery (Cloudinary) gets none uploaded: the page
    /// names its crops of the original. Otherwise they are made here and uploaded beside the image; their keys are
    /// deterministic too, so making them again on a resumed publish replaces them. A re-publish (after an unpublish
    /// removed them) whose preview is gone makes them from the published image; with neither, the page shows the image.
    /// </summary>
    private async Task<WebCopies?> MakeCopiesAsync(byte[]? original, PublishedAsset asset, ImageCandidate candidate, string key, CancellationToken ct)
    {
        if (store.Store is ICroppingStore cropping && candidate is { Width: > 0, Height: > 0 })
        {
            var social = cropping.CropUrl(asset.Url, candidate.Width, candidate.Height, WebImages.SocialWidth, WebImages.SocialHeight, candidate.Focus, "jpg", 85);
            var heroes = WebImages.HeroSizes(candidate.Width, candidate.Height);
            var srcset = heroes.Select(h => $"{cropping.CropUrl(asset.Url, candidate.Width, candidate.Height, h.Width, h.Height, candidate.Focus, "webp", 80)} {h.Width}w");
            return new WebCopies(social, string.Join(", ", srcset), heroes[^1].Width, heroes[^1].Height);
        }
        original ??= await store.Store.ReadAsync(asset.Url, ct);
        return original is null ? null : await UploadCopiesAsync(original, candidate, key, ct);
    }

    /// <summary>Keeps the uploaded image on the (still draft) post and moves the task to <c>scheduled</c>.</summary>
    private async Task ScheduleAsync(string taskId, string candidateId, PublishedAsset asset, WebCopies? copies)
    {
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
            candidate.CdnUrl = asset.Url;
            SetImage(post, task, candidate, asset.Url, copies);
            task.Error = null;
            task.NextAttemptAt = null;
            db.MoveTo(task, WorkflowStatus.Scheduled, TaskHistory.System, $"goes live at {task.PublishAt:yyyy-MM-dd HH:mm} UTC");
            webhooks.AddTask(db, WebhookOutbox.TaskScheduled, task, urls);
            try
            {
                await db.SaveAndAnnounceAsync(stream, CancellationToken.None);
                break;
            }
            catch (DbUpdateConcurrencyException)
            {
                logger.LogDebug("Task {TaskId} changed while scheduling; reading it again", taskId);
            }
        }
        webhookSignal.Notify();
        logger.LogInformation("Task {TaskId} scheduled", taskId);
    }

    /// <summary>
    /// Puts a scheduled post live if its time has come. Every node may call this for the same task at
    /// once: the task row's concurrency token lets exactly one commit, the others find it published.
    /// </summary>
    /// <returns>True when this call published the post.</returns>
    public async Task<bool> GoLiveAsync(string taskId, CancellationToken ct)
    {
        string candidateId;
        using var changing = postsChanged.Hold();
        while (true)
        {
            await using var db = await dbs.CreateDbContextAsync(ct);
            var task = await db.Tasks.SingleOrDefaultAsync(t => t.Id == taskId, ct);
            if (task is null || task.Status != WorkflowStatus.Scheduled || task.PublishAt > time.GetUtcNow().UtcDateTime)
            {
                return false;
            }
            var candidate = await db.Images.SingleOrDefaultAsync(i => i.Id == task.SelectedImageId, ct);
            var post = await db.Posts.SingleAsync(p => p.Id == task.PostId, ct);
            if (candidate?.CdnUrl is null)
            {
                // Scheduled without a confirmed upload (not made by this code, but a hand-edited row could be):
                // the publish step uploads it again and, its time having come, publishes.
                db.MoveTo(task, WorkflowStatus.Publishing, TaskHistory.System, "the scheduled image was not uploaded; uploading it now");
                await SaveIgnoringRaceAsync(db);
                return false;
            }
            candidateId = candidate.Id;
            // The image and its web copies went to the store at approval and are on the draft post already.
            var copies = post.SocialImageUrl is null ? null
                : new WebCopies(post.SocialImageUrl, post.FeaturedImageSrcset ?? "", post.FeaturedImageWidth ?? candidate.Width, post.FeaturedImageHeight ?? candidate.Height);
            await PublishAsync(db, task, post, candidate, candidate.CdnUrl!, copies, $"{candidate.CdnUrl} (scheduled for {task.PublishAt:yyyy-MM-dd HH:mm} UTC)");
            try
            {
                await db.SaveAndAnnounceAsync(stream, CancellationToken.None);
                break;
            }
            catch (DbUpdateConcurrencyException)
            {
                // Another node (or a reschedule, a cancel) came first: decide again on what it left.
            }
        }
        await postsChanged.AnnounceAsync();
        changing.Dispose();
        await AfterPublishAsync(taskId, candidateId);
        return true;
    }

    /// <summary>
    /// The derivatives of a published image, uploaded to the same store as the image (so with a CDN the page
    /// never points at the app for them): the 1200×630 social card and the 16:9 hero crops (WebP) at the responsive widths, all cut around the focal point.
    /// </summary>
    private async Task<WebCopies> UploadCopiesAsync(byte[] original, ImageCandidate candidate, string key, CancellationToken ct)
    {
        var (card, responsive) = await Task.Run(() =>
        {
            try
            {
                return WebImages.PublishedCopies(original, candidate.Width, candidate.Height, candidate.Focus);
            }
            catch (ImageGenerationException ex)
            {
                throw new PublishingException($"Could not make the web copies of the image: {ex.Message}", retryable: false, ex);
            }
        }, ct);
        var social = await UploadAsync(card, key + "-social", null, ct);
        var srcset = new List<string>(responsive.Count);
        foreach (var copy in responsive)
        {
            var asset = await UploadAsync(copy, $"{key}-w{copy.Width}", null, ct);
            srcset.Add($"{asset.Url} {copy.Width}w");
        }
        return new WebCopies(social.Url, string.Join(", ", srcset), responsive[^1].Width, responsive[^1].Height);
    }

    private async Task<byte[]?> ReadPreviewAsync(ImageCandidate candidate, bool required, CancellationToken ct)
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
            return required
                ? throw new PublishingException($"The preview file of the approved image ({candidate.FileName}) is missing.", retryable: false)
                : null;
        }
        await using (preview)
        {
            try
            {
                return await WebImages.ReadAllAsync(preview.Stream, preview.Length, ct);
            }
            // A broken read of a preview streamed from a bucket.
            catch (Exception ex) when (ex is IOException or HttpRequestException)
            {
                throw new PublishingException($"Could not read the approved image from the preview store: {ex.Message}", retryable: true, ex);
            }
        }
    }

    /// <summary>The publishing store in use (for metrics and spans).</summary>
    public string StoreName => store.Store.Name;

    /// <summary>One image to the publishing store. Every node can do this: the bytes come from the preview store.</summary>
    private async Task<PublishedAsset> UploadAsync(EncodedImage image, string key, string? sha256, CancellationToken ct)
    {
        using var content = new MemoryStream(image.Data, writable: false);
        PublishedAsset asset;
        using (var upload = ProofsheetTelemetry.StartBackendCall("upload", store.Store.Name))
        {
            var started = Stopwatch.GetTimestamp();
            var outcome = "ok";
            try
            {
                asset = await store.Store.UploadAsync(
                    new PublishRequest(
                        Key: key,
                        Content: content,
                        ContentType: image.ContentType,
                        Length: image.Data.LongLength,
                        Sha256: sha256 ?? Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(image.Data))),
                    ct);
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
        return asset;
    }

    private async Task CommitAsync(string taskId, string candidateId, PublishedAsset asset, WebCopies? copies, CancellationToken ct)
    {
        // Not cancellable: once the upload is done, recording it is cheap and must not be abandoned.
        using var changing = postsChanged.Hold();
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
            await PublishAsync(db, task, post, candidate, asset.Url, copies, asset.Url);
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
        changing.Dispose();
        await AfterPublishAsync(taskId, candidateId);
    }

    private async Task SaveIgnoringRaceAsync(AppDbContext db)
    {
        try
        {
            await db.SaveAndAnnounceAsync(stream, CancellationToken.None);
        }
        catch (DbUpdateConcurrencyException)
        {
            // Another node decided first.
        }
    }

    /// <summary>What follows a publish once public pages show it (the caller has announced the change).</summary>
    private async Task AfterPublishAsync(string taskId, string candidateId)
    {
        webhookSignal.Notify();
        logger.LogInformation("Task {TaskId} published", taskId);
        await CleanUpPreviewAsync(candidateId);
    }

    private static void SetImage(Post post, ContentTask task, ImageCandidate candidate, string url, WebCopies? copies)
    {
        post.FeaturedImageUrl = url;
        post.SocialImageUrl = copies?.SocialImageUrl;
        post.FeaturedImageSrcset = copies?.Srcset;
        // The page shows the hero crop: its size reserves the space (the original's when there is none).
        post.FeaturedImageWidth = copies?.HeroWidth ?? (candidate.Width > 0 ? candidate.Width : null);
        post.FeaturedImageHeight = copies?.HeroHeight ?? (candidate.Height > 0 ? candidate.Height : null);
        post.FeaturedImageAlt = task.ImageAlt;
        post.FeaturedImageCredit = candidate.AttributionName;
        post.FeaturedImageCreditUrl = candidate.AttributionUrl;
    }

    /// <summary>The publish itself, in the caller's unit of work: post, image and task published, webhooks queued.</summary>
    private async Task PublishAsync(AppDbContext db, ContentTask task, Post post, ImageCandidate candidate, string url, WebCopies? copies, string detail)
    {
        post.Title = task.Title ?? post.Title;
        post.Excerpt = task.Excerpt;
        post.Content = task.Content;
        post.MetaDescription = task.MetaDescription;
        SetImage(post, task, candidate, url, copies);
        post.Status = PostStatus.Published;
        post.PublishedAt ??= DateTime.UtcNow;
        post.TaskId = task.Id;

        candidate.Status = CandidateStatus.Published;
        candidate.CdnUrl = url;
        task.Error = null;
        task.NextAttemptAt = null;
        db.MoveTo(task, WorkflowStatus.Published, TaskHistory.System, detail);
        // Delivered after, and only if, this transaction commits.
        webhooks.Add(db, new WebhookPost(post.Id, post.Slug, post.Title, urls.Absolute($"/posts/{post.Slug}"), post.FeaturedImageUrl), task.ApprovedBy);
        await notifier.QueueAsync(db, task, Email.Notifier.Published, CancellationToken.None, urls.Absolute($"/posts/{post.Slug}"));
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
