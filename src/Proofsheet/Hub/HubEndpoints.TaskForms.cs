using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text.Json;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Proofsheet.Auth;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.Posts;
using Proofsheet.Tasks;


namespace Proofsheet.Hub;

/// <summary>The task page's forms: edit, choose, generate more, approve, reject, retry, cancel.</summary>
public static partial class HubEndpoints
{
    private static async Task<IResult> EditAsync(
        string id, HttpContext http, IAntiforgery antiforgery, TaskActions actions, AppDbContext db, PreviewStore previews, TaskEventStream stream,
        IOptionsMonitor<ImageOptions> imageOptions, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(ct);
        var title = form["title"].ToString().Trim();
        var prompt = form["image_prompt"].ToString().Trim();
        string? error = null;
        if (title.Length is < 1 or > InputLimits.Title)
        {
            error = $"The title must be 1 to {InputLimits.Title} characters long.";
        }
        else if (prompt.Length is < 1 or > InputLimits.Prompt)
        {
            error = $"The image prompt must be 1 to {InputLimits.Prompt:N0} characters long.";
        }
        else if (form["excerpt"].ToString().Length > InputLimits.Excerpt || form["content"].ToString().Length > InputLimits.Content || form["image_alt"].ToString().Length > InputLimits.ImageAlt)
        {
            error = $"The excerpt ({InputLimits.Excerpt:N0}), content ({InputLimits.Content:N0}) or alt text ({InputLimits.ImageAlt} characters) is too long.";
        }
        if (error is null)
        {
            // Browsers send textarea line breaks as CRLF; the draft keeps plain LF.
            var outcome = await actions.EditAsync(id, new TaskEdits(
                title, form["excerpt"].ToString().ReplaceLineEndings("\n"), form["content"].ToString().ReplaceLineEndings("\n"),
                prompt, form["image_alt"].ToString().Trim()), Actor(http.User), ct);
            if (outcome.Kind == OutcomeKind.Ok)
            {
                return TypedResults.Redirect(HubUrls.Task(id) + "?saved=true");
            }
            error = outcome.Detail;
        }
        return await TaskPageAsync(id, http, db, previews, stream, imageOptions.CurrentValue, null, error, ct, 400);
    }

    private static async Task<IResult> SelectAsync(string id, HttpContext http, IAntiforgery antiforgery, TaskActions actions, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(ct);
        var imageId = form["image_id"].ToString();
        if (!Ids.IsValid(imageId))
        {
            return TypedResults.BadRequest();
        }
        var outcome = await actions.SelectAsync(id, new ImageChoice(imageId, null), Actor(http.User), ct);
        if (http.Request.Headers.ContainsKey("HX-Request"))
        {
            return outcome.Kind == OutcomeKind.Ok ? TypedResults.NoContent() : TypedResults.Conflict(outcome.Detail);
        }
        return TypedResults.Redirect(HubUrls.Task(id));
    }

    private static async Task<IResult> MoreAsync(
        string id, HttpContext http, IAntiforgery antiforgery, TaskActions actions, AppDbContext db, PreviewStore previews, TaskEventStream stream,
        IOptionsMonitor<ImageOptions> imageOptions, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(ct);
        var opts = imageOptions.CurrentValue;
        var prompt = Blank(form["prompt"]);
        string? error = null;
        if (!int.TryParse(form["count"], out var count) || count < 1 || count > opts.MaxVariations)
        {
            error = $"Ask for 1 to {opts.MaxVariations} images.";
        }
        else if (prompt?.Length > InputLimits.Prompt)
        {
            error = $"The prompt must be at most {InputLimits.Prompt:N0} characters long.";
        }
        else
        {
            var outcome = await actions.GenerateMoreAsync(id, count, prompt, Actor(http.User), ct);
            if (outcome.Kind == OutcomeKind.Ok)
            {
                return TypedResults.Redirect(HubUrls.Task(id));
            }
            error = outcome.Detail;
        }
        return await TaskPageAsync(id, http, db, previews, stream, opts, null, error, ct, 400);
    }

    private static async Task<IResult> ApproveAsync(
        string id, HttpContext http, IAntiforgery antiforgery, TaskActions actions, AppDbContext db, PreviewStore previews, TaskEventStream stream,
        IOptionsMonitor<ImageOptions> imageOptions, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(ct);
        var imageId = Blank(form["image_id"]);
        if (imageId is not null && !Ids.IsValid(imageId))
        {
            return TypedResults.BadRequest();
        }
        var feedback = Blank(form["feedback"]);
        var outcome = feedback?.Length > InputLimits.Feedback
            ? Outcome.Invalid("feedback", $"Keep the feedback under {InputLimits.Feedback:N0} characters.")
            : await actions.ApproveAsync(id, new ImageChoice(imageId, null), feedback, Actor(http.User), ct);
        if (outcome.Kind == OutcomeKind.Ok)
        {
            await actions.WaitForPublishAsync(id, ct);
            return TypedResults.Redirect(HubUrls.Task(id));
        }
        return await TaskPageAsync(id, http, db, previews, stream, imageOptions.CurrentValue, null, outcome.Detail, ct, 409);
    }

    private static async Task<IResult> RejectAsync(
        string id, HttpContext http, IAntiforgery antiforgery, TaskActions actions, AppDbContext db, PreviewStore previews, TaskEventStream stream,
        IOptionsMonitor<ImageOptions> imageOptions, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(ct);
        var feedback = Blank(form["feedback"]);
        var newPrompt = Blank(form["new_prompt"]);
        string? error;
        if (feedback is null || feedback.Length > InputLimits.Feedback)
        {
            error = $"Say why you reject it (up to {InputLimits.Feedback:N0} characters): the reason is kept in the history.";
        }
        else if (newPrompt?.Length > InputLimits.Prompt)
        {
            error = $"The new prompt must be at most {InputLimits.Prompt:N0} characters long.";
        }
        else
        {
            var outcome = await actions.RejectAsync(id, feedback, newPrompt, Actor(http.User), ct);
            if (outcome.Kind == OutcomeKind.Ok)
            {
                return TypedResults.Redirect(HubUrls.Task(id));
            }
            error = outcome.Detail;
        }
        return await TaskPageAsync(id, http, db, previews, stream, imageOptions.CurrentValue, null, error, ct, 400);
    }

    private static async Task<IResult> ActAsync(string id, HttpContext http, Func<string, string, CancellationToken, Task<Outcome>> action)
    {
        var antiforgery = http.RequestServices.GetRequiredService<IAntiforgery>();
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var outcome = await action(id, Actor(http.User), http.RequestAborted);
        if (outcome.Kind == OutcomeKind.Ok)
        {
            return TypedResults.Redirect(HubUrls.Task(id));
        }
        var sp = http.RequestServices;
        return await TaskPageAsync(id, http, sp.GetRequiredService<AppDbContext>(), sp.GetRequiredService<PreviewStore>(), sp.GetRequiredService<TaskEventStream>(),
            sp.GetRequiredService<IOptionsMonitor<ImageOptions>>().CurrentValue, null, outcome.Detail, http.RequestAborted, 409);
    }
}
