using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.OpenApi;
using Proofsheet.People;

namespace Proofsheet.Tasks;

// Optional fields have defaults so the OpenAPI schema marks them optional; topic is required (a missing one is a 400).
public sealed record CreateTaskRequest(string? Topic, string? Tone = null, string? Audience = null, int? TargetWords = null, int? NumVariations = null, string? ImageSource = null);

public sealed record EditTaskRequest(string? Title = null, string? Excerpt = null, string? Content = null, string? ImagePrompt = null, string? ImageAlt = null, string? Slug = null, string? MetaDescription = null);

public sealed record SelectRequest(int? Index = null, string? ImageId = null);

/// <param name="PublishAt">When the post goes live: an ISO 8601 time with its offset (<c>2026-12-24T09:00:00Z</c>); omitted, at once.</param>
public sealed record ApproveRequest(int? Index = null, string? ImageId = null, string? Feedback = null, string? PublishAt = null);

public sealed record ScheduleRequest(string? PublishAt);

public sealed record RejectRequest(string? Feedback, string? NewPrompt = null, bool? Regenerate = null);

public sealed record GenerateMoreRequest(int? NumVariations = null, string? Prompt = null);

/// <summary>Whom to assign the task to; null (or absent) assigns it to nobody.</summary>
public sealed record AssignRequest(string? PersonId = null);

public sealed record CommentRequest(string? Text);

public static class TaskEndpoints
{
    public static IEndpointRouteBuilder MapTasks(this IEndpointRouteBuilder app)
    {
        // Editors' unless a route says otherwise (docs/team.md has the role table).
        var api = app.MapGroup("/api/tasks").WithTags("Tasks").NeedsApiKey().Allow(Access.Editor);
        api.MapPost("/", CreateAsync).Limited().Checked()
            .Produces<TaskResponse>(StatusCodes.Status202Accepted)
            .WithName("createTask").WithSummary("Ask for a post").WithDescription("Queues the task; the answer's Location is the task to watch.");
        api.MapGet("/", ListAsync).Checked()
            .Produces<PageResponse<TaskResponse>>()
            .Allow(Access.Member).WithName("listTasks").WithSummary("List tasks, newest first");
        api.MapGet("/{id}", GetAsync).Problems(StatusCodes.Status404NotFound)
            .Allow(Access.Member).WithName("getTask").WithSummary("Read one task");
        api.MapPatch("/{id}", EditAsync).Checked().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<TaskResponse>()
            .WithName("editTask").WithSummary("Edit the draft, or fix a published post (a changed slug redirects from the old one)");
        api.MapGet("/{id}/history", HistoryAsync).Problems(StatusCodes.Status404NotFound)
            .Allow(Access.Member).WithName("getTaskHistory").WithSummary("Every change to a task, oldest first");
        api.MapGet("/{id}/events", Events).Problems(StatusCodes.Status404NotFound)
            .Produces<string>(StatusCodes.Status200OK, "text/event-stream")
            .Allow(Access.Member).WithName("watchTask").WithSummary("Watch a task live (server-sent events)")
            .WithDescription("Events: status {status, error}, progress {done, total, ...}, draft, images; the stream ends at a final status, or with an error event once its key is revoked.");
        api.MapPost("/{id}/cancel", CancelAsync).Checked().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<TaskResponse>()
            .WithName("cancelTask").WithSummary("Cancel a task that is not final");
        api.MapPost("/{id}/select", SelectAsync).Checked().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<TaskResponse>()
            .Allow(Access.Assigned).WithName("selectImage").WithSummary("Pick the featured image (without publishing)");
        api.MapPost("/{id}/approve", ApproveAsync).Checked().TouchesPreviews().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<TaskResponse>().Produces<TaskResponse>(StatusCodes.Status202Accepted)
            .Allow(Access.Assigned).WithName("approveTask").WithSummary("Approve and publish, now or at publish_at")
            .WithDescription("200 when the post is published (or, with publish_at, scheduled: its image uploaded), 202 while the image upload is still under way.");
        api.MapPut("/{id}/schedule", RescheduleAsync).Checked().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<TaskResponse>()
            .WithName("rescheduleTask").WithSummary("Change when a scheduled post goes live");
        api.MapDelete("/{id}/schedule", UnscheduleAsync).Checked().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<TaskResponse>()
            .WithName("unscheduleTask").WithSummary("Cancel a schedule: the task is an unpublished draft awaiting approval again, its chosen image kept");
        api.MapPost("/{id}/reject", RejectAsync).Limited().Checked().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<TaskResponse>()
            .Allow(Access.Assigned).WithName("rejectTask").WithSummary("Reject: with regenerate or new_prompt a new round of images, otherwise the task");
        api.MapPost("/{id}/retry", RetryAsync).Checked().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<TaskResponse>()
            .WithName("retryTask").WithSummary("Retry a failed task from the step that failed");
        api.MapPost("/{id}/unpublish", UnpublishAsync).Checked().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<TaskResponse>()
            .WithName("unpublishTask").WithSummary("Take a published post back to draft; the task can be approved again");
        api.MapPost("/{id}/reopen", ReopenAsync).Checked().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<TaskResponse>()
            .WithName("reopenTask").WithSummary("Bring a rejected task back for review");
        api.MapPost("/{id}/generate-more", GenerateMoreAsync).Limited().Checked().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<TaskResponse>()
            .WithName("generateMoreImages").WithSummary("Make more candidate images for a task awaiting approval");
        api.MapPost("/{id}/assign", AssignAsync).Checked().Problems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .Produces<TaskResponse>()
            .WithName("assignTask").WithSummary("Assign the task to a person (a reviewer may then approve or reject it); null to nobody");
        api.MapPost("/{id}/comments", CommentAsync).Checked().Problems(StatusCodes.Status404NotFound)
            .Produces<TaskEventResponse>(StatusCodes.Status201Created).Allow(Access.Member)
            .WithName("commentOnTask").WithSummary("Add a plain-text comment to the task's thread (it shows in the history)");
        return app;
    }

    private static async Task<IResult> AssignAsync(
        string id, AssignRequest? request, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream, ClaimsPrincipal user, CancellationToken ct)
    {
        if (!Ids.IsValid(id))
        {
            return Problems.NotFound($"There is no task {id}.");
        }
        var outcome = await actions.AssignAsync(id, request?.PersonId, ActorOf(user), ct);
        return outcome.Kind == OutcomeKind.Ok ? TypedResults.Ok(await LoadAsync(db, id, previews, stream, ct)) : Problems.From(outcome);
    }

    private static async Task<IResult> CommentAsync(string id, CommentRequest? request, TaskActions actions, AppDbContext db, ClaimsPrincipal user, CancellationToken ct)
    {
        if (!Ids.IsValid(id))
        {
            return Problems.NotFound($"There is no task {id}.");
        }
        var outcome = await actions.CommentAsync(id, request?.Text, ActorOf(user), ct);
        if (outcome.Kind != OutcomeKind.Ok)
        {
            return Problems.From(outcome);
        }
        var e = await db.TaskEvents.AsNoTracking().Where(e => e.TaskId == id && e.Kind == "comment").OrderByDescending(e => e.Id).FirstAsync(ct);
        return TypedResults.Created($"/api/tasks/{id}/history", new TaskEventResponse(e.Id, e.At, e.Actor, e.Kind, e.FromStatus, e.ToStatus, e.Detail, e.Node));
    }

    /// <summary>Who did it, for history and webhooks: the key's person (and which key).</summary>
    internal static string ActorOf(ClaimsPrincipal user) => user.Identity?.Name ?? TaskHistory.System;

    public static async Task<TaskResponse?> LoadAsync(AppDbContext db, string id, IPreviewStore previews, TaskEventStream stream, CancellationToken ct)
    {
        var task = await db.Tasks.AsNoTracking().SingleOrDefaultAsync(t => t.Id == id, ct);
        if (task is null)
        {
            return null;
        }
        var post = task.PostId is null ? null : await db.Posts.AsNoTracking().SingleOrDefaultAsync(p => p.Id == task.PostId, ct);
        var images = await db.Images.AsNoTracking().Where(i => i.TaskId == id).ToListAsync(ct);
        return task.ToResponse(post, images, previews, stream.CurrentProgress(id));
    }

    private static async Task<IResult> CreateAsync(
        CreateTaskRequest request, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream,
        ImageGeneratorChain chain, IOptionsMonitor<ImageOptions> imageOptions, ClaimsPrincipal user, CancellationToken ct)
    {
        var opts = imageOptions.CurrentValue;
        var checks = new Checks()
            .Text("topic", request.Topic, InputLimits.TopicMin, InputLimits.Topic, required: true)
            .Text("tone", request.Tone, 0, InputLimits.Tone)
            .Text("audience", request.Audience, 0, InputLimits.Audience)
            .Range("target_words", request.TargetWords, 100, 10_000)
            .Range("num_variations", request.NumVariations, 1, opts.MaxVariations)
            .Rule(request.ImageSource is null || chain.IsAvailable(request.ImageSource), "image_source",
                $"image_source must be one of the configured image backends: {string.Join(", ", chain.Configured)}.");
        if (!checks.Ok)
        {
            return checks.Problem();
        }
        var (_, task) = await actions.CreateAsync(
            request.Topic!.Trim(), request.Tone?.Trim(), request.Audience?.Trim(), request.TargetWords ?? 800,
            request.NumVariations ?? opts.DefaultVariations, request.ImageSource?.Trim().ToLowerInvariant(), ActorOf(user), ct, user.PersonId());
        var response = await LoadAsync(db, task!.Id, previews, stream, ct);
        return TypedResults.Accepted($"/api/tasks/{task.Id}", response);
    }

    private static async Task<IResult> ListAsync(
        AppDbContext db, IPreviewStore previews, TaskEventStream stream,
        string? status, int? limit, string? cursor, string? assigned, ClaimsPrincipal user, CancellationToken ct)
    {
        WorkflowStatus parsed = default;
        var checks = new Checks()
            .Rule(status is null || WorkflowStatuses.TryParse(status, out parsed), "status",
                $"status must be one of: {string.Join(", ", Enum.GetValues<WorkflowStatus>().Select(s => s.ToWire()))}.")
            .Range("limit", limit, 1, 100)
            .Rule(Cursor.IsValid(cursor), "cursor", "cursor is not one this API gave out.")
            .Rule(assigned is null or "me", "assigned", "assigned can only be 'me' (the tasks assigned to the key's person).");
        if (!checks.Ok)
        {
            return checks.Problem();
        }
        var query = db.Tasks.AsNoTracking();
        if (status is not null)
        {
            query = query.Where(t => t.Status == parsed);
        }
        if (assigned == "me")
        {
            var me = user.PersonId();
            query = query.Where(t => t.AssigneeId == me);
        }
        var (items, next) = await Cursor.NewestFirstAsync(query, cursor, limit ?? 20, ct);
        var ids = items.Select(t => t.Id).ToList();
        var postIds = items.Where(t => t.PostId != null).Select(t => t.PostId!).Distinct().ToList();
        var images = await db.Images.AsNoTracking().Where(i => i.TaskId != null && ids.Contains(i.TaskId)).ToListAsync(ct);
        var posts = await db.Posts.AsNoTracking().Where(p => postIds.Contains(p.Id)).ToDictionaryAsync(p => p.Id, ct);
        var byTask = images.ToLookup(i => i.TaskId!);
        return TypedResults.Ok(new PageResponse<TaskResponse>(
            items.Select(t => t.ToResponse(t.PostId is null ? null : posts.GetValueOrDefault(t.PostId), byTask[t.Id].ToList(), previews, stream.CurrentProgress(t.Id))).ToList(),
            next));
    }

    private static async Task<Results<Ok<TaskResponse>, ProblemHttpResult>> GetAsync(
        string id, AppDbContext db, IPreviewStore previews, TaskEventStream stream, CancellationToken ct)
    {
        var response = Ids.IsValid(id) ? await LoadAsync(db, id, previews, stream, ct) : null;
        return response is null ? Problems.NotFound($"There is no task {Shorten(id)}.") : TypedResults.Ok(response);
    }

    private static async Task<IResult> EditAsync(
        string id, EditTaskRequest request, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream,
        ClaimsPrincipal user, CancellationToken ct)
    {
        if (!Ids.IsValid(id))
        {
            return Problems.NotFound($"There is no task {Shorten(id)}.");
        }
        var checks = new Checks()
            .Text("title", request.Title, 1, InputLimits.Title)
            .Text("excerpt", request.Excerpt, 0, InputLimits.Excerpt)
            .Text("content", request.Content, 0, InputLimits.Content)
            .Text("image_prompt", request.ImagePrompt, 1, InputLimits.Prompt)
            .Text("image_alt", request.ImageAlt, 0, InputLimits.ImageAlt)
            .Text("meta_description", request.MetaDescription, 0, InputLimits.MetaDescription)
            .Rule(request.Slug is null || (request.Slug.Length <= Posts.Slug.MaxLength && request.Slug.Length > 0 && request.Slug == Posts.Slug.From(request.Slug, "x")), "slug",
                $"slug must be lower-case letters, digits and single hyphens, at most {Posts.Slug.MaxLength} characters (like 'making-muffins').");
        if (!checks.Ok)
        {
            return checks.Problem();
        }
        var outcome = await actions.EditAsync(id, new TaskEdits(request.Title?.Trim(), request.Excerpt, request.Content, request.ImagePrompt, request.ImageAlt, request.Slug, request.MetaDescription), ActorOf(user), ct);
        return outcome.Kind == OutcomeKind.Ok ? TypedResults.Ok(await LoadAsync(db, id, previews, stream, ct)) : Problems.From(outcome);
    }

    private static async Task<Results<Ok<TaskEventResponse[]>, ProblemHttpResult>> HistoryAsync(string id, AppDbContext db, CancellationToken ct)
    {
        if (!Ids.IsValid(id) || !await db.Tasks.AnyAsync(t => t.Id == id, ct))
        {
            return Problems.NotFound($"There is no task {Shorten(id)}.");
        }
        var events = await db.TaskEvents.AsNoTracking().Where(e => e.TaskId == id).OrderBy(e => e.Id).ToListAsync(ct);
        return TypedResults.Ok(events.Select(e => e.ToResponse()).ToArray());
    }

    private static IResult Events(string id, IDbContextFactory<AppDbContext> dbs, TaskEventStream stream, HttpContext http)
    {
        if (!Ids.IsValid(id))
        {
            return Problems.NotFound($"There is no task {Shorten(id)}.");
        }
        var json = http.RequestServices.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        return TypedResults.ServerSentEvents(StreamAsync(id, dbs, stream, json, Auth.AccessRecheck.For(http), http.RequestAborted));
    }

    /// <summary>The current status first, then every live message, until the task reaches a final status.</summary>
    private static async IAsyncEnumerable<SseItem<string>> StreamAsync(
        string id, IDbContextFactory<AppDbContext> dbs, TaskEventStream stream, JsonSerializerOptions json, Auth.AccessRecheck access,
        [EnumeratorCancellation] CancellationToken ct)
    {
        using var subscription = stream.Subscribe(id);
        WorkflowStatus status;
        await using (var db = await dbs.CreateDbContextAsync(ct))
        {
            var task = await db.Tasks.AsNoTracking().SingleOrDefaultAsync(t => t.Id == id, ct);
            if (task is null)
            {
                yield return new SseItem<string>(JsonSerializer.Serialize(new { detail = "There is no such task." }, json), "error");
                yield break;
            }
            status = task.Status;
            yield return new SseItem<string>(JsonSerializer.Serialize(new { status = status.ToWire(), error = task.Error }, json), "status");
            if (stream.CurrentProgress(id) is { } progress)
            {
                yield return new SseItem<string>(JsonSerializer.Serialize(progress, json), "progress");
            }
            if (stream.CurrentDraft(id) is { } draft)
            {
                yield return new SseItem<string>(JsonSerializer.Serialize(draft, json), "draft");
            }
        }
        if (status.IsFinal())
        {
            yield break;
        }
        while (true)
        {
            TaskStreamMessage message;
            try
            {
                message = await subscription.Reader.ReadAsync(ct);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
            // The key may have been revoked (or its person removed) since the stream opened: say so, and end.
            if (!await access.StillAllowedAsync(ct))
            {
                yield return new SseItem<string>(JsonSerializer.Serialize(new { detail = "The API key of this stream was revoked, or its person removed." }, json), "error");
                yield break;
            }
            yield return new SseItem<string>(JsonSerializer.Serialize(message.Data, json), message.Type);
            if (message.Type == "status" && WorkflowStatuses.TryParse(JsonSerializer.SerializeToElement(message.Data, json).GetProperty("status").GetString(), out var s) && s.IsFinal())
            {
                yield break;
            }
        }
    }

    private static Task<IResult> CancelAsync(string id, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream, ClaimsPrincipal user, CancellationToken ct) =>
        Act(id, db, previews, stream, () => actions.CancelAsync(id, ActorOf(user), ct), ct);

    private static Task<IResult> UnpublishAsync(string id, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream, ClaimsPrincipal user, CancellationToken ct) =>
        Act(id, db, previews, stream, () => actions.UnpublishAsync(id, ActorOf(user), ct), ct);

    private static Task<IResult> ReopenAsync(string id, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream, ClaimsPrincipal user, CancellationToken ct) =>
        Act(id, db, previews, stream, () => actions.ReopenAsync(id, ActorOf(user), ct), ct);

    private static Task<IResult> RetryAsync(string id, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream, ClaimsPrincipal user, CancellationToken ct) =>
        Act(id, db, previews, stream, () => actions.RetryAsync(id, ActorOf(user), ct), ct);

    private static Task<IResult> SelectAsync(
        string id, SelectRequest request, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream, ClaimsPrincipal user, CancellationToken ct)
    {
        var checks = ChoiceChecks(request.Index, request.ImageId, required: true);
        return checks.Ok
            ? Act(id, db, previews, stream, () => actions.SelectAsync(id, new ImageChoice(request.ImageId, request.Index), ActorOf(user), ct), ct)
            : Task.FromResult<IResult>(checks.Problem());
    }

    private static async Task<IResult> ApproveAsync(
        string id, ApproveRequest? request, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream, TimeProvider time, ClaimsPrincipal user, CancellationToken ct)
    {
        request ??= new ApproveRequest();
        var checks = ChoiceChecks(request.Index, request.ImageId, required: false).Text("feedback", request.Feedback, 0, InputLimits.Feedback);
        var publishAt = PublishTime.Check(checks, request.PublishAt, time, required: false);
        if (!checks.Ok)
        {
            return checks.Problem();
        }
        return await Approve(id, new ImageChoice(request.ImageId, request.Index), request.Feedback, actions, db, previews, stream, user, ct, publishAt);
    }

    private static Task<IResult> RescheduleAsync(
        string id, ScheduleRequest request, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream, TimeProvider time, ClaimsPrincipal user, CancellationToken ct)
    {
        var checks = new Checks();
        var publishAt = PublishTime.Check(checks, request.PublishAt, time, required: true);
        return checks.Ok
            ? Act(id, db, previews, stream, () => actions.RescheduleAsync(id, publishAt!.Value, ActorOf(user), ct), ct)
            : Task.FromResult<IResult>(checks.Problem());
    }

    private static Task<IResult> UnscheduleAsync(string id, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream, ClaimsPrincipal user, CancellationToken ct) =>
        Act(id, db, previews, stream, () => actions.UnscheduleAsync(id, ActorOf(user), ct), ct);

    /// <summary>Approves, waits briefly for the publish, and answers 200 when it is done or 202 while it is still under way.</summary>
    internal static async Task<IResult> Approve(
        string id, ImageChoice choice, string? feedback, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream, ClaimsPrincipal user, CancellationToken ct,
        DateTime? publishAt = null)
    {
        if (!Ids.IsValid(id))
        {
            return Problems.NotFound($"There is no task {Shorten(id)}.");
        }
        var outcome = await actions.ApproveAsync(id, choice, feedback, ActorOf(user), ct, publishAt);
        if (outcome.Kind != OutcomeKind.Ok)
        {
            return Problems.From(outcome);
        }
        await actions.WaitForPublishAsync(id, ct);
        var response = await LoadAsync(db, id, previews, stream, ct);
        return response!.Status == WorkflowStatus.Publishing.ToWire()
            ? TypedResults.Accepted($"/api/tasks/{id}", response)
            : TypedResults.Ok(response);
    }

    private static Task<IResult> RejectAsync(
        string id, RejectRequest request, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream, ClaimsPrincipal user, CancellationToken ct)
    {
        var checks = new Checks().Text("feedback", request.Feedback, 1, InputLimits.Feedback, required: true).Text("new_prompt", request.NewPrompt, 1, InputLimits.Prompt);
        return checks.Ok
            ? Act(id, db, previews, stream, () => actions.RejectAsync(id, request.Feedback!.Trim(), request.NewPrompt?.Trim(), ActorOf(user), ct, request.Regenerate == true), ct)
            : Task.FromResult<IResult>(checks.Problem());
    }

    private static Task<IResult> GenerateMoreAsync(
        string id, GenerateMoreRequest request, TaskActions actions, AppDbContext db, IPreviewStore previews, TaskEventStream stream,
        IOptionsMonitor<ImageOptions> imageOptions, ClaimsPrincipal user, CancellationToken ct)
    {
        var checks = new Checks().Range("num_variations", request.NumVariations, 1, imageOptions.CurrentValue.MaxVariations).Text("prompt", request.Prompt, 1, InputLimits.Prompt);
        return checks.Ok
            ? Act(id, db, previews, stream, () => actions.GenerateMoreAsync(id, request.NumVariations ?? imageOptions.CurrentValue.DefaultVariations, request.Prompt?.Trim(), ActorOf(user), ct), ct)
            : Task.FromResult<IResult>(checks.Problem());
    }

    internal static Checks ChoiceChecks(int? index, string? imageId, bool required) => new Checks()
        .Range("index", index, 1, int.MaxValue)
        .Id("image_id", imageId)
        .Rule(!required || index is not null || imageId is not null, "index", "Name the image with index or image_id.")
        .Rule(index is null || imageId is null, "index", "Give index or image_id, not both.");

    private static async Task<IResult> Act(string id, AppDbContext db, IPreviewStore previews, TaskEventStream stream, Func<Task<Outcome>> action, CancellationToken ct)
    {
        if (!Ids.IsValid(id))
        {
            return Problems.NotFound($"There is no task {Shorten(id)}.");
        }
        var outcome = await action();
        return outcome.Kind == OutcomeKind.Ok ? TypedResults.Ok(await LoadAsync(db, id, previews, stream, ct)) : Problems.From(outcome);
    }

    /// <summary>Echo at most a little of what a client sent, and only printable characters.</summary>
    internal static string Shorten(string value)
    {
        var clean = new string(value.Where(c => !char.IsControl(c)).Take(40).ToArray());
        return value.Length > 40 ? clean + "…" : clean;
    }
}
