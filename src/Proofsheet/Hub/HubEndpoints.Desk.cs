using Microsoft.AspNetCore.Antiforgery;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.Tasks;

using Proofsheet.People;

namespace Proofsheet.Hub;

/// <summary>The reviewer's desk: marks on single images, moving between tasks, and the queue's bulk actions.</summary>
public static partial class HubEndpoints
{
    private static void MapDesk(RouteGroupBuilder hub)
    {
        hub.MapPost("/images/{id}/rating", RateAsync).Allow(Access.Member);
        hub.MapPost("/images/{id}/trash", (string id, HttpContext http, TaskActions a) => ImageActAsync(id, http, a.DiscardImageAsync));
        hub.MapPost("/images/{id}/restore", (string id, HttpContext http, TaskActions a) => ImageActAsync(id, http, a.RestoreImageAsync));
        hub.MapPost("/images/{id}/more", MoreLikeThisAsync);
        hub.MapPost("/images/{id}/same-seed", SameSeedAsync);
        hub.MapPost("/tasks/{id}/unpublish", (string id, TaskActions a, HttpContext http) => ActAsync(id, http, a.UnpublishAsync));
        hub.MapPost("/tasks/{id}/reopen", (string id, TaskActions a, HttpContext http) => ActAsync(id, http, a.ReopenAsync));
        hub.MapGet("/next", (string? after, AppDbContext db, CancellationToken ct) => NeighbourAsync(db, after, forward: true, ct)).Allow(Access.Member);
        hub.MapGet("/prev", (string? before, AppDbContext db, CancellationToken ct) => NeighbourAsync(db, before, forward: false, ct)).Allow(Access.Member);
        hub.MapPost("/queue/bulk", BulkAsync);
    }

    private static async Task<IResult> RateAsync(string id, HttpContext http, IAntiforgery antiforgery, TaskActions actions, AppDbContext db, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(ct);
        if (!int.TryParse(form["stars"], out var stars) || stars is < 0 or > 5)
        {
            return TypedResults.BadRequest();
        }
        var outcome = await actions.RateAsync(id, stars, Actor(http.User), ct);
        if (http.Request.Headers.ContainsKey("HX-Request"))
        {
            return outcome.Kind == OutcomeKind.Ok ? TypedResults.NoContent() : TypedResults.Conflict(HubWords.Say(outcome));
        }
        return TypedResults.Redirect(await PageOfImageAsync(db, id, ct));
    }

    private static async Task<IResult> ImageActAsync(string id, HttpContext http, Func<string, string, CancellationToken, Task<Outcome>> action)
    {
        var antiforgery = http.RequestServices.GetRequiredService<IAntiforgery>();
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var db = http.RequestServices.GetRequiredService<AppDbContext>();
        var outcome = await action(id, Actor(http.User), http.RequestAborted);
        var taskId = await db.Images.AsNoTracking().Where(i => i.Id == id).Select(i => i.TaskId).SingleOrDefaultAsync(http.RequestAborted);
        if (outcome.Kind == OutcomeKind.Ok || taskId is null)
        {
            return TypedResults.Redirect(taskId is null ? "/hub/gallery" : HubUrls.Task(taskId));
        }
        return await FailAsync(taskId, http, new FormFailure(HubWords.Say(outcome), 409), http.RequestAborted);
    }

    private static async Task<IResult> MoreLikeThisAsync(
        string id, HttpContext http, IAntiforgery antiforgery, TaskActions actions, IOptionsMonitor<ImageOptions> imageOptions, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var (outcome, taskId) = await actions.MoreLikeThisAsync(id, imageOptions.CurrentValue.DefaultVariations, Actor(http.User), ct);
        if (taskId is null)
        {
            return TypedResults.Redirect("/hub/gallery");
        }
        return outcome.Kind == OutcomeKind.Ok
            ? TypedResults.Redirect(HubUrls.Task(taskId))
            : await FailAsync(taskId, http, new FormFailure(HubWords.Say(outcome), 409), ct);
    }

    /// <summary>Re-renders one candidate with its seed, source and size and an edited prompt: the same picture, steered.</summary>
    private static async Task<IResult> SameSeedAsync(
        string id, HttpContext http, IAntiforgery antiforgery, CandidateGenerator generator, AppDbContext db, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var image = await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == id, ct);
        if (image?.TaskId is null)
        {
            return TypedResults.Redirect("/hub/gallery");
        }
        var form = await http.Request.ReadFormAsync(ct);
        var prompt = Blank(form["prompt"]);
        if (prompt is null || prompt.Length > InputLimits.Prompt)
        {
            return await FailAsync(image.TaskId, http, new FormFailure($"Write the prompt to render with (up to {InputLimits.Prompt:N0} characters).", 400), ct);
        }
        var status = await db.Tasks.AsNoTracking().Where(t => t.Id == image.TaskId).Select(t => t.Status).SingleAsync(ct);
        if (status is not (WorkflowStatus.AwaitingApproval or WorkflowStatus.GeneratingImages))
        {
            return await FailAsync(image.TaskId, http, new FormFailure($"A task that is {HubUrls.StatusLabel(status.ToWire())} takes no new images.", 409), ct);
        }
        var made = await generator.GenerateForTaskAsync(image.TaskId, 1, new GenerationOverrides
        {
            Prompt = prompt,
            NegativePrompt = image.NegativePrompt,
            Seed = image.Seed,
            Width = image.Width,
            Height = image.Height,
            Source = image.Source,
        }, fromPipeline: false, Actor(http.User), ct);
        return made.Count > 0
            ? TypedResults.Redirect(HubUrls.Task(image.TaskId))
            : await FailAsync(image.TaskId, http, new FormFailure("The task changed while the image was drawn; it was not kept.", 409), ct);
    }

    private static async Task<string> PageOfImageAsync(AppDbContext db, string imageId, CancellationToken ct)
    {
        var taskId = await db.Images.AsNoTracking().Where(i => i.Id == imageId).Select(i => i.TaskId).SingleOrDefaultAsync(ct);
        return taskId is null ? "/hub/gallery" : HubUrls.Task(taskId);
    }

    /// <summary>The next (or previous) task in the review queue's order, or the queue itself at either end.</summary>
    private static async Task<IResult> NeighbourAsync(AppDbContext db, string? from, bool forward, CancellationToken ct)
    {
        var queue = await db.Tasks.AsNoTracking().Where(t => t.Status == WorkflowStatus.AwaitingApproval)
            .OrderBy(t => t.UpdatedAt).ThenBy(t => t.Id).Select(t => t.Id).Take(500).ToListAsync(ct);
        var at = from is null ? -1 : queue.IndexOf(from);
        string? target;
        if (at < 0)
        {
            // The task left the queue (just approved): the oldest one waiting is next.
            target = queue.FirstOrDefault(t => t != from);
        }
        else
        {
            var i = forward ? at + 1 : at - 1;
            target = i >= 0 && i < queue.Count ? queue[i] : null;
        }
        return TypedResults.Redirect(target is null ? "/hub/queue" : HubUrls.Task(target));
    }

    /// <summary>Rejects or cancels the ticked tasks of the queue; reports what could not be done.</summary>
    private static async Task<IResult> BulkAsync(HttpContext http, IAntiforgery antiforgery, TaskActions actions, AppDbContext db, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return TypedResults.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(ct);
        var ids = form["task_id"].Where(i => Ids.IsValid(i)).Select(i => i!).Distinct().Take(200).ToList();
        var action = form["bulk"].ToString();
        var feedback = Blank(form["feedback"]) ?? "Rejected from the review queue.";
        if (ids.Count == 0 || action is not ("reject" or "cancel") || feedback.Length > InputLimits.Feedback)
        {
            return await QueuePageAsync(http, db, ct, "Tick one or more tasks, then press Reject ticked or Cancel ticked.", 400);
        }
        var failed = 0;
        foreach (var id in ids)
        {
            var outcome = action == "reject"
                ? await actions.RejectAsync(id, feedback, null, Actor(http.User), ct)
                : await actions.CancelAsync(id, Actor(http.User), ct);
            failed += outcome.Kind == OutcomeKind.Ok ? 0 : 1;
        }
        return failed == 0
            ? TypedResults.Redirect("/hub/queue")
            : await QueuePageAsync(http, db, ct, $"{failed} of {ids.Count} tasks had changed meanwhile and were left as they are.", 409);
    }
}
