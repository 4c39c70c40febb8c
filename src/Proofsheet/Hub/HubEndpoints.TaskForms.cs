using Microsoft.AspNetCore.Antiforgery;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.Tasks;

namespace Proofsheet.Hub;

/// <summary>
/// The task page's forms: edit, choose, generate more, approve, reject, retry, cancel. Approve,
/// reject and generate carry the edit form's unsaved fields (hub.js adds them), which are saved
/// first in the same request: nothing typed is lost by pressing the wrong button first. A form
/// drawn from a draft someone else has since saved is refused, showing both versions.
/// </summary>
public static partial class HubEndpoints
{
    /// <summary>What went wrong, drawn on the task page (whose address the browser shows again, see hub.js).</summary>
    private sealed record FormFailure(string Message, int Status, TaskEdits? Yours = null);

    private static async Task<IResult> EditAsync(string id, HttpContext http, IAntiforgery antiforgery, TaskActions actions, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(ct);
        var failure = await SaveDraftAsync(id, form, actions, Actor(http.User), required: true, ct);
        return failure is null ? TypedResults.Redirect(HubUrls.Task(id) + "?saved=true") : await FailAsync(id, http, failure, ct);
    }

    /// <summary>
    /// Saves the draft fields a form carries (all of them, or none when <paramref name="required"/> is false
    /// and the form has no draft fields); null when saved.
    /// </summary>
    /// <summary>Reviewers decide but do not edit: a draft carried along with their decision is not saved.</summary>
    private static bool MayEdit(HttpContext http) => Proofsheet.People.AccessRules.Allows(Proofsheet.People.Access.Editor, Proofsheet.People.PersonClaims.Role(http.User));

    private static async Task<FormFailure?> SaveDraftAsync(string id, IFormCollection form, TaskActions actions, string actor, bool required, CancellationToken ct)
    {
        if (!required && !form.ContainsKey(DraftStamp.StaleField))
        {
            return null;
        }
        var title = form["title"].ToString().Trim();
        var prompt = form["image_prompt"].ToString().Trim();
        // Browsers send textarea line breaks as CRLF; the draft keeps plain LF.
        var slug = form.ContainsKey("slug") ? form["slug"].ToString().Trim() : null;
        var meta = form.ContainsKey("meta_description") ? form["meta_description"].ToString().ReplaceLineEndings("\n").Trim() : null;
        var yours = new TaskEdits(title, form["excerpt"].ToString().ReplaceLineEndings("\n"), form["content"].ToString().ReplaceLineEndings("\n"),
            prompt, form["image_alt"].ToString().Trim(), string.IsNullOrEmpty(slug) ? null : slug, meta);
        string? error = null;
        if (title.Length is < 1 or > InputLimits.Title)
        {
            error = $"The title must be 1 to {InputLimits.Title} characters long.";
        }
        else if (prompt.Length is < 1 or > InputLimits.Prompt)
        {
            error = $"The image prompt must be 1 to {InputLimits.Prompt:N0} characters long.";
        }
        else if (yours.Excerpt!.Length > InputLimits.Excerpt || yours.Content!.Length > InputLimits.Content || yours.ImageAlt!.Length > InputLimits.ImageAlt)
        {
            error = $"The excerpt ({InputLimits.Excerpt:N0}), content ({InputLimits.Content:N0}) or alt text ({InputLimits.ImageAlt} characters) is too long.";
        }
        else if (yours.Slug is not null && (yours.Slug.Length > Posts.Slug.MaxLength || yours.Slug != Posts.Slug.From(yours.Slug, "x")))
        {
            error = "The address may hold only lower-case letters, digits and single hyphens (like making-muffins).";
        }
        else if (meta?.Length > InputLimits.MetaDescription)
        {
            error = $"Keep the meta description under {InputLimits.MetaDescription} characters.";
        }
        if (error is not null)
        {
            return new FormFailure(error + " Nothing was saved; your text is still in the form.", 400, yours);
        }
        var stamp = form[DraftStamp.StaleField].ToString();
        var outcome = await actions.EditAsync(id, yours, actor, ct, string.IsNullOrEmpty(stamp) ? null : stamp);
        return outcome.Kind == OutcomeKind.Ok
            ? null
            : new FormFailure(HubWords.Say(outcome), 409, outcome.Field == DraftStamp.StaleField || outcome.Kind == OutcomeKind.Invalid ? yours : null);
    }

    private static async Task<IResult> FailAsync(string id, HttpContext http, FormFailure failure, CancellationToken ct)
    {
        var sp = http.RequestServices;
        return await TaskPageAsync(id, http, sp.GetRequiredService<AppDbContext>(), sp.GetRequiredService<IPreviewStore>(), sp.GetRequiredService<TaskEventStream>(),
            sp.GetRequiredService<IOptionsMonitor<ImageOptions>>().CurrentValue, null, failure.Message, ct, failure.Status, failure.Yours);
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
            return outcome.Kind == OutcomeKind.Ok ? TypedResults.NoContent() : TypedResults.Conflict(HubWords.Say(outcome));
        }
        return TypedResults.Redirect(HubUrls.Task(id));
    }

    private static async Task<IResult> MoreAsync(
        string id, HttpContext http, IAntiforgery antiforgery, TaskActions actions, IOptionsMonitor<ImageOptions> imageOptions, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(ct);
        var opts = imageOptions.CurrentValue;
        var prompt = Blank(form["prompt"]);
        if (!int.TryParse(form["count"], out var count) || count < 1 || count > opts.MaxVariations)
        {
            return await FailAsync(id, http, new FormFailure($"Ask for 1 to {opts.MaxVariations} images.", 400), ct);
        }
        if (prompt?.Length > InputLimits.Prompt)
        {
            return await FailAsync(id, http, new FormFailure($"The prompt must be at most {InputLimits.Prompt:N0} characters long.", 400), ct);
        }
        if (MayEdit(http) && await SaveDraftAsync(id, form, actions, Actor(http.User), required: false, ct) is { } failed)
        {
            return await FailAsync(id, http, failed, ct);
        }
        var outcome = await actions.GenerateMoreAsync(id, count, prompt, Actor(http.User), ct);
        return outcome.Kind == OutcomeKind.Ok
            ? TypedResults.Redirect(HubUrls.Task(id))
            : await FailAsync(id, http, new FormFailure(HubWords.Say(outcome), 409), ct);
    }

    private static async Task<IResult> ApproveAsync(string id, HttpContext http, IAntiforgery antiforgery, TaskActions actions, CancellationToken ct)
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
        if (feedback?.Length > InputLimits.Feedback)
        {
            return await FailAsync(id, http, new FormFailure($"Keep the note under {InputLimits.Feedback:N0} characters.", 400), ct);
        }
        DateTime? publishAt = null;
        if (form["schedule"] == "1")
        {
            var (utc, error) = PickedTime(form, http.RequestServices.GetRequiredService<TimeProvider>());
            if (utc is null)
            {
                return await FailAsync(id, http, new FormFailure(error!, 400), ct);
            }
            publishAt = utc;
        }
        if (MayEdit(http) && await SaveDraftAsync(id, form, actions, Actor(http.User), required: false, ct) is { } failed)
        {
            return await FailAsync(id, http, failed, ct);
        }
        var outcome = await actions.ApproveAsync(id, new ImageChoice(imageId, null), feedback, Actor(http.User), ct, publishAt);
        if (outcome.Kind == OutcomeKind.Ok)
        {
            await actions.WaitForPublishAsync(id, ct);
            return TypedResults.Redirect(Next(form, id));
        }
        return await FailAsync(id, http, new FormFailure(HubWords.Say(outcome), 409), ct);
    }

    private static async Task<IResult> RejectAsync(string id, HttpContext http, IAntiforgery antiforgery, TaskActions actions, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(ct);
        var feedback = Blank(form["feedback"]);
        var newPrompt = Blank(form["new_prompt"]);
        if (feedback is null || feedback.Length > InputLimits.Feedback)
        {
            return await FailAsync(id, http, new FormFailure(
                $"Say why you reject it (up to {InputLimits.Feedback:N0} characters): the reason is kept in the history.", 400), ct);
        }
        if (newPrompt?.Length > InputLimits.Prompt)
        {
            return await FailAsync(id, http, new FormFailure($"The new prompt must be at most {InputLimits.Prompt:N0} characters long.", 400), ct);
        }
        if (MayEdit(http) && await SaveDraftAsync(id, form, actions, Actor(http.User), required: false, ct) is { } failed)
        {
            return await FailAsync(id, http, failed, ct);
        }
        var outcome = await actions.RejectAsync(id, feedback, newPrompt, Actor(http.User), ct, regenerate: form["regenerate"] == "true");
        return outcome.Kind == OutcomeKind.Ok
            ? TypedResults.Redirect(Next(form, id))
            : await FailAsync(id, http, new FormFailure(HubWords.Say(outcome), 409), ct);
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
            var form = await http.Request.ReadFormAsync(http.RequestAborted);
            return TypedResults.Redirect(Next(form, id));
        }
        return await FailAsync(id, http, new FormFailure(HubWords.Say(outcome), 409), http.RequestAborted);
    }

    /// <summary>Where to go after an action: back to the task, or where the form asked (the queue's "approve and next"), only inside the Hub.</summary>
    private static string Next(IFormCollection form, string id) =>
        form.TryGetValue("next", out var next) && next.ToString().Length > 0 ? SafeReturnUrl(next) : HubUrls.Task(id);
}
