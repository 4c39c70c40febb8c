using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.Posts;
using Proofsheet.Publishing;
using Proofsheet.Telemetry;
using Proofsheet.Webhooks;
using Proofsheet.Writing;

namespace Proofsheet.Tasks;

/// <summary>
/// Moves one task forward through its working statuses until it needs a person (awaiting
/// approval), ends, or fails. Every step starts from what the database says, so running it again
/// after a crash picks up where the last committed step left off.
/// </summary>
public sealed class TaskPipeline(
    IDbContextFactory<AppDbContext> dbs,
    ActiveWriter writer,
    PostReserver posts,
    CandidateGenerator candidates,
    Publisher publisher,
    TaskEventStream stream,
    WebhookOutbox webhooks,
    WebhookSignal webhookSignal,
    PublicUrls urls,
    Email.Notifier notifier,
    IOptionsMonitor<PipelineOptions> options,
    ILogger<TaskPipeline> logger)
{
    public async Task RunAsync(string taskId, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            ContentTask? task;
            await using (var db = await dbs.CreateDbContextAsync(ct))
            {
                task = await db.Tasks.AsNoTracking().SingleOrDefaultAsync(t => t.Id == taskId, ct);
            }
            if (task is null || !task.Status.IsWorking() || task.NextAttemptAt > DateTime.UtcNow)
            {
                return;
            }

            // One trace per step: the writer, backend, upload and HTTP spans of the step nest under it.
            var step = task.Status.ToWire();
            using var activity = ProofsheetTelemetry.StartStep(taskId, step);
            var stepTag = new KeyValuePair<string, object?>("step", step);
            ProofsheetTelemetry.QueueWait.Record(Math.Max(0, (DateTime.UtcNow - (task.NextAttemptAt ?? task.UpdatedAt)).TotalSeconds), stepTag);
            var started = Stopwatch.GetTimestamp();
            var (backend, outcome) = (task.Status switch
            {
                WorkflowStatus.Writing => writer.Writer.Name,
                WorkflowStatus.GeneratingImages => task.ImageSource ?? "auto",
                WorkflowStatus.Publishing => publisher.StoreName,
                _ => "none",
            }, "ok");
            try
            {
                switch (task.Status)
                {
                    case WorkflowStatus.Queued:
                        await MoveAsync(taskId, WorkflowStatus.Queued, WorkflowStatus.Writing, ct);
                        break;
                    case WorkflowStatus.Writing:
                        await WriteAsync(taskId, ct);
                        break;
                    case WorkflowStatus.GeneratingImages:
                        await GenerateAsync(task, ct);
                        break;
                    case WorkflowStatus.Publishing:
                        await publisher.PublishAsync(taskId, ct);
                        break;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                outcome = "stopped";
                throw;
            }
            catch (Exception ex)
            {
                outcome = "failed";
                activity?.SetStatus(ActivityStatusCode.Error, ProofsheetTelemetry.ErrorKind(ex));
                await FailAttemptAsync(taskId, task.Status, ex);
                return;
            }
            finally
            {
                ProofsheetTelemetry.StepDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds,
                    stepTag, new KeyValuePair<string, object?>("backend", backend), new KeyValuePair<string, object?>("outcome", outcome));
            }
        }
    }

    private async Task WriteAsync(string taskId, CancellationToken ct)
    {
        ContentTask task;
        await using (var db = await dbs.CreateDbContextAsync(ct))
        {
            task = await db.Tasks.AsNoTracking().SingleAsync(t => t.Id == taskId, ct);
        }
        stream.Progress(taskId, new ProgressData(0, 1, $"writing the draft with {writer.Writer.Name}", "writing"));
        // The draft is written only once per task: a task that already has one (a crash after
        // writing, before its post was reserved) does not pay for another.
        using var drafts = new DraftReporter(stream, taskId);
        var draft = task.Content is null ? await CallWriterAsync(task, drafts, ct) : null;

        for (var attempt = 0; ; attempt++)
        {
            await using var db = await dbs.CreateDbContextAsync(ct);
            var current = await db.Tasks.SingleAsync(t => t.Id == taskId, ct);
            if (current.Status != WorkflowStatus.Writing)
            {
                return;
            }
            if (draft is not null)
            {
                current.Title = Clip(draft.Title, 200);
                current.Excerpt = draft.Excerpt;
                current.Content = draft.Content;
                current.MetaDescription = draft.MetaDescription;
                current.Keywords = string.Join(", ", draft.Keywords);
                current.ImagePrompt = draft.ImagePrompt;
                current.ImageAlt = draft.ImageAlt;
                current.WriterName = writer.Writer.Name;
                current.WriterModel = draft.Model;
                current.InputTokens = draft.InputTokens;
                current.OutputTokens = draft.OutputTokens;
            }
            await posts.AttachAsync(db, current, attempt, ct);
            current.ImagesPending = current.NumVariations;
            current.Attempts = 0;
            current.Error = null;
            db.Record(current, "draft_written", writer.Writer.Name, $"\"{current.Title}\" as /posts/{current.Slug}");
            db.MoveTo(current, WorkflowStatus.GeneratingImages, TaskHistory.System);
            try
            {
                await db.SaveAndAnnounceAsync(stream, ct);
                return;
            }
            catch (DbUpdateException ex) when (ex is DbUpdateConcurrencyException || DbErrors.IsUniqueViolation(ex))
            {
                // Lost a race for the slug (or the row changed): decide again on fresh data.
            }
        }
    }

    private async Task<ArticleDraft> CallWriterAsync(ContentTask task, DraftReporter drafts, CancellationToken ct)
    {
        var name = writer.Writer.Name;
        using var activity = ProofsheetTelemetry.StartBackendCall("writer", name);
        var started = Stopwatch.GetTimestamp();
        try
        {
            return await writer.Writer.WriteAsync(new ArticleRequest(task.Topic, task.Tone, task.Audience, task.TargetWords), drafts, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            ProofsheetTelemetry.Failed(activity, name, ex);
            throw;
        }
        finally
        {
            ProofsheetTelemetry.BackendDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds,
                new KeyValuePair<string, object?>("backend", name), new KeyValuePair<string, object?>("kind", "writer"));
        }
    }

    private async Task GenerateAsync(ContentTask task, CancellationToken ct)
    {
        if (!string.IsNullOrWhiteSpace(task.PromptFeedback))
        {
            await RewriteImagePromptAsync(task, ct);
        }
        if (task.ImagesPending > 0)
        {
            var like = PendingImageSettings.FromJson(task.PendingSettings);
            await candidates.GenerateForTaskAsync(task.Id, task.ImagesPending, like?.ToOverrides() ?? new GenerationOverrides(), fromPipeline: true, TaskHistory.System, ct);
        }
        while (true)
        {
            await using var db = await dbs.CreateDbContextAsync(ct);
            var current = await db.Tasks.SingleAsync(t => t.Id == task.Id, ct);
            if (current.Status != WorkflowStatus.GeneratingImages || current.ImagesPending > 0)
            {
                return; // more to do (the loop in RunAsync comes back) or no longer ours
            }
            current.Attempts = 0;
            current.Error = null;
            current.PendingSettings = null;
            db.MoveTo(current, WorkflowStatus.AwaitingApproval, TaskHistory.System);
            webhooks.AddTask(db, WebhookOutbox.TaskAwaitingApproval, current, urls);
            await notifier.QueueAsync(db, current, Email.Notifier.AwaitingApproval, ct);
            try
            {
                await db.SaveAndAnnounceAsync(stream, ct);
                webhookSignal.Notify();
                return;
            }
            catch (DbUpdateConcurrencyException)
            {
            }
        }
    }

    /// <summary>
    /// The reviewer's feedback on the last round, turned into the next round's image prompt by the model
    /// writer. If the writer cannot (it failed, or the writer changed to <c>outline</c> meanwhile), the
    /// feedback is kept as something to avoid, as the offline writer does, and the history says why.
    /// </summary>
    private async Task RewriteImagePromptAsync(ContentTask task, CancellationToken ct)
    {
        var feedback = task.PromptFeedback!;
        string? rewritten = null;
        string? failure = null;
        if (writer.Writer is IImagePromptWriter rewriter)
        {
            stream.Progress(task.Id, new ProgressData(0, 1, $"rewriting the image prompt with {writer.Writer.Name}", "generating_images"));
            try
            {
                rewritten = await rewriter.RewriteImagePromptAsync(new ImagePromptRequest(task.ImagePrompt ?? task.Title ?? task.Topic, feedback, task.Title, task.Topic), ct);
            }
            catch (WriterException ex)
            {
                logger.LogWarning("The image prompt of task {TaskId} was not rewritten: {Reason}", task.Id, ex.Message);
                failure = ex.Message;
            }
        }
        while (true)
        {
            await using var db = await dbs.CreateDbContextAsync(ct);
            var current = await db.Tasks.SingleAsync(t => t.Id == task.Id, ct);
            if (current.PromptFeedback != feedback)
            {
                return; // another reject changed it meanwhile: that one is rewritten on the next pass
            }
            if (rewritten is not null)
            {
                current.ImagePrompt = rewritten;
                db.Record(current, "image_prompt_rewritten", TaskHistory.System, $"From the feedback \"{feedback}\": {rewritten}");
            }
            else
            {
                TaskActions.AddNegativeHint(current, feedback);
                db.Record(current, "image_prompt_kept", TaskHistory.System,
                    $"The image prompt was not rewritten ({failure ?? $"the {writer.Writer.Name} writer cannot"}); the feedback is kept as something to avoid.");
            }
            current.PromptFeedback = null;
            try
            {
                await db.SaveAndAnnounceAsync(stream, ct);
                return;
            }
            catch (DbUpdateConcurrencyException)
            {
            }
        }
    }

    private async Task MoveAsync(string taskId, WorkflowStatus from, WorkflowStatus to, CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        var task = await db.Tasks.SingleAsync(t => t.Id == taskId, ct);
        if (task.Status != from)
        {
            return;
        }
        db.MoveTo(task, to, TaskHistory.System);
        try
        {
            await db.SaveAndAnnounceAsync(stream, ct);
        }
        catch (DbUpdateConcurrencyException)
        {
            // Changed meanwhile (cancelled?): the loop reads it again.
        }
    }

    /// <summary>Counts a failed attempt: retried later with backoff, or failed for good with a clear error.</summary>
    private async Task FailAttemptAsync(string taskId, WorkflowStatus stage, Exception ex)
    {
        var opts = options.CurrentValue;
        var permanent = ex is PublishingException { Retryable: false } or WriterException { Retryable: false };
        logger.LogWarning(ex, "Task {TaskId} failed while {Stage}", taskId, stage.ToWire());
        for (var i = 0; i < 10; i++)
        {
            await using var db = await dbs.CreateDbContextAsync();
            var task = await db.Tasks.SingleAsync(t => t.Id == taskId);
            if (task.Status != stage)
            {
                return;
            }
            task.Attempts++;
            task.Error = $"{Describe(stage)} failed: {ex.Message}";
            // A failed upload keeps its task in `publishing` (retrying) unless retrying cannot help.
            if (permanent || (task.Attempts >= opts.MaxAttempts && stage != WorkflowStatus.Publishing))
            {
                task.FailedStatus = stage;
                task.NextAttemptAt = null;
                db.MoveTo(task, WorkflowStatus.Failed, TaskHistory.System, task.Error);
                webhooks.AddTask(db, WebhookOutbox.TaskFailed, task, urls);
                await notifier.QueueAsync(db, task, Email.Notifier.Failed, CancellationToken.None);
            }
            else
            {
                var delay = TimeSpan.FromTicks(Math.Min(opts.RetryMaxDelay.Ticks, opts.RetryBaseDelay.Ticks * (1L << Math.Min(20, task.Attempts - 1))));
                task.NextAttemptAt = DateTime.UtcNow + delay;
                db.Record(task, "attempt_failed", TaskHistory.System, $"{task.Error} (attempt {task.Attempts}; next try in {delay.TotalSeconds:0} s)");
            }
            try
            {
                await db.SaveAndAnnounceAsync(stream, CancellationToken.None);
                webhookSignal.Notify();
                return;
            }
            catch (DbUpdateConcurrencyException)
            {
            }
        }
    }

    private static string Describe(WorkflowStatus stage) => stage switch
    {
        WorkflowStatus.Writing => "Writing the draft",
        WorkflowStatus.GeneratingImages => "Generating images",
        WorkflowStatus.Publishing => "Publishing",
        _ => "Processing",
    };

    private static string Clip(string s, int max) => s.Length <= max ? s : s[..max];
}

/// <summary>The draft's text while the writer streams it, for the Hub to show as it is written.</summary>
public sealed record DraftText(string Content);

/// <summary>
/// Publishes the draft as it grows: at most four times a second, the latest text always following within
/// that time (each event carries the whole text so far, so a page that joins late still shows all of it).
/// </summary>
internal sealed class DraftReporter(TaskEventStream stream, string taskId) : IProgress<string>, IDisposable
{
    private static readonly TimeSpan Every = TimeSpan.FromMilliseconds(250);
    private readonly Lock _lock = new();
    private readonly System.Diagnostics.Stopwatch _since = new();
    private Timer? _timer;
    private string? _pending;
    private int _published;

    public void Report(string value)
    {
        lock (_lock)
        {
            if (value.Length <= (_pending?.Length ?? _published))
            {
                return;
            }
            _pending = value;
            if (_timer is not null)
            {
                return;
            }
            var wait = _since.IsRunning ? Every - _since.Elapsed : TimeSpan.Zero;
            if (wait <= TimeSpan.Zero)
            {
                PublishPending();
            }
            else
            {
                _timer = new Timer(_ =>
                {
                    lock (_lock)
                    {
                        _timer?.Dispose();
                        _timer = null;
                        PublishPending();
                    }
                }, null, wait, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private void PublishPending()
    {
        if (_pending is not { } text)
        {
            return;
        }
        _pending = null;
        _published = text.Length;
        _since.Restart();
        stream.Publish(taskId, new TaskStreamMessage("draft", new DraftText(text)));
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _timer?.Dispose();
            _timer = null;
            _pending = null;
        }
    }
}
