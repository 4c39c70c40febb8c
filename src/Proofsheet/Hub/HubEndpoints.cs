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

/// <summary>
/// The Oversight Hub: statically rendered Razor components behind a cookie login. Every action
/// goes through <see cref="TaskActions"/>, the same code the API uses; htmx and server-sent
/// events make the progress bar and the candidate grid live.
/// </summary>
public static class HubEndpoints
{
    public const int PageSize = 20;

    public static WebApplicationBuilder AddHub(this WebApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents();
        builder.Services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "proofsheet_csrf";
            o.Cookie.SameSite = SameSiteMode.Strict;
        });
        builder.Services.AddSingleton<LoginThrottle>();
        return builder;
    }

    public static WebApplication UseHub(this WebApplication app)
    {
        app.UseStaticFiles();
        app.UseAntiforgery();
        return app;
    }

    public static IEndpointRouteBuilder MapHub(this IEndpointRouteBuilder app)
    {
        app.MapGet("/hub/login", LoginForm).AllowAnonymous().ExcludeFromDescription();
        app.MapPost("/hub/login", LoginAsync).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription();

        var hub = app.MapGroup("/hub").RequireAuthorization(AuthExtensions.HubPolicy).ExcludeFromDescription();
        hub.MapGet("/", () => TypedResults.Redirect("/hub/tasks"));
        hub.MapPost("/logout", LogoutAsync);
        hub.MapGet("/tasks", TasksAsync);
        hub.MapPost("/tasks", CreateAsync);
        hub.MapGet("/queue", QueueAsync);
        hub.MapGet("/tasks/{id}", TaskAsync);
        hub.MapGet("/tasks/{id}/live", LiveAsync);
        hub.MapGet("/tasks/{id}/sheet", SheetAsync);
        hub.MapGet("/tasks/{id}/events", Events);
        hub.MapPost("/tasks/{id}/edit", EditAsync);
        hub.MapPost("/tasks/{id}/select", SelectAsync);
        hub.MapPost("/tasks/{id}/more", MoreAsync);
        hub.MapPost("/tasks/{id}/approve", ApproveAsync);
        hub.MapPost("/tasks/{id}/reject", RejectAsync);
        hub.MapPost("/tasks/{id}/retry", (string id, TaskActions a, HttpContext http) => ActAsync(id, http, a.RetryAsync));
        hub.MapPost("/tasks/{id}/cancel", (string id, TaskActions a, HttpContext http) => ActAsync(id, http, a.CancelAsync));
        hub.MapGet("/gallery", GalleryAsync);
        hub.MapGet("/posts", PostsAsync);
        hub.MapGet("/health", HealthAsync);
        hub.MapGet("/images/{id}/file", ImageFileAsync);
        return app;
    }

    private static string Actor(ClaimsPrincipal user) => "hub:" + (user.Identity?.Name ?? "reviewer");

    // ---- login ---------------------------------------------------------------------------------

    private static RazorComponentResult<LoginPage> LoginForm(HttpContext http, string? returnUrl) => Login(http, null, returnUrl);

    private static RazorComponentResult<LoginPage> Login(HttpContext http, string? error, string? returnUrl, int status = 200)
    {
        var tokens = http.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(http);
        return new RazorComponentResult<LoginPage>(new
        {
            Error = error,
            ReturnUrl = SafeReturnUrl(returnUrl),
            CsrfField = tokens.FormFieldName,
            CsrfToken = tokens.RequestToken ?? "",
        }) { StatusCode = status };
    }

    /// <summary>Only a path inside the Hub: never another site, never a protocol-relative URL.</summary>
    internal static string SafeReturnUrl(string? returnUrl) =>
        returnUrl is not null && returnUrl.StartsWith("/hub", StringComparison.Ordinal) && !returnUrl.Contains("//", StringComparison.Ordinal)
            && !returnUrl.Contains('\\', StringComparison.Ordinal) && returnUrl.Length < 500
            ? returnUrl
            : "/hub/tasks";

    private static async Task<IResult> LoginAsync(HttpContext http, IAntiforgery antiforgery, AdminPassword password, LoginThrottle throttle)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return Login(http, "The form expired; please try again.", null, 400);
        }
        var form = await http.Request.ReadFormAsync();
        var returnUrl = form["returnUrl"].ToString();
        var client = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        if (throttle.IsLockedOut(client))
        {
            return Login(http, "Too many failed attempts. Wait a few minutes and try again.", returnUrl, StatusCodes.Status429TooManyRequests);
        }
        if (!password.Verify(form["password"].ToString()))
        {
            throttle.Failed(client);
            return Login(http, "That password is not right.", returnUrl, StatusCodes.Status401Unauthorized);
        }
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "admin")], AuthExtensions.HubScheme);
        await http.SignInAsync(AuthExtensions.HubScheme, new ClaimsPrincipal(identity));
        return TypedResults.Redirect(SafeReturnUrl(returnUrl));
    }

    private static async Task<IResult> LogoutAsync(HttpContext http, IAntiforgery antiforgery)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return TypedResults.BadRequest();
        }
        await http.SignOutAsync(AuthExtensions.HubScheme);
        return TypedResults.Redirect("/hub/login");
    }

    // ---- tasks ---------------------------------------------------------------------------------

    private static async Task<IResult> TasksAsync(
        HttpContext http, AppDbContext db, ImageGeneratorChain chain, IOptionsMonitor<ImageOptions> imageOptions,
        string? status, string? cursor, CancellationToken ct) =>
        await TasksPageAsync(http, db, chain, imageOptions.CurrentValue, status, cursor, null, null, ct);

    private static async Task<IResult> TasksPageAsync(
        HttpContext http, AppDbContext db, ImageGeneratorChain chain, ImageOptions images,
        string? status, string? cursor, Dictionary<string, string>? errors, IFormCollection? form, CancellationToken ct)
    {
        WorkflowStatus? filter = WorkflowStatuses.TryParse(status, out var parsed) ? parsed : null;
        var counts = (await db.Tasks.AsNoTracking().GroupBy(t => t.Status).Select(g => new { g.Key, Count = g.Count() }).ToListAsync(ct))
            .ToDictionary(c => c.Key.ToWire(), c => c.Count);
        var query = db.Tasks.AsNoTracking();
        if (filter is { } f)
        {
            query = query.Where(t => t.Status == f);
        }
        if (cursor is not null && Cursor.TryDecode(cursor, out var after))
        {
#pragma warning disable CA1309 // EF translates string.Compare, not its ordinal form; ids are ASCII hex
            query = query.Where(t => string.Compare(t.Id, after) < 0);
#pragma warning restore CA1309
        }
        var page = await query.OrderByDescending(t => t.Id).Take(PageSize + 1).ToListAsync(ct);
        var rows = await RowsAsync(db, page.Take(PageSize).ToList(), ct);
        return new RazorComponentResult<TasksPage>(new
        {
            Hub = HubContext.For(http, "tasks"),
            Rows = rows,
            Counts = counts,
            Filter = filter?.ToWire(),
            NextCursor = page.Count > PageSize ? Cursor.Encode(page[PageSize - 1].Id) : null,
            Sources = chain.Configured,
            DefaultVariations = images.DefaultVariations,
            MaxVariations = images.MaxVariations,
            Errors = errors ?? [],
            Form = form,
        }) { StatusCode = errors is null ? 200 : 400 };
    }

    internal static async Task<List<TaskRow>> RowsAsync(AppDbContext db, List<ContentTask> tasks, CancellationToken ct)
    {
        var ids = tasks.Select(t => t.Id).ToList();
        var images = await db.Images.AsNoTracking()
            .Where(i => i.TaskId != null && ids.Contains(i.TaskId) && i.Status != CandidateStatus.Discarded)
            .Select(i => new { i.Id, i.TaskId, i.Variation, i.FileDeleted })
            .ToListAsync(ct);
        var byTask = images.ToLookup(i => i.TaskId!);
        return tasks.Select(t =>
        {
            var mine = byTask[t.Id].OrderBy(i => i.Variation).ToList();
            var thumb = mine.FirstOrDefault(i => i.Id == t.SelectedImageId) ?? mine.LastOrDefault();
            return new TaskRow(t.Id, t.Topic, t.Title, t.Status.ToWire(), t.CreatedAt, t.UpdatedAt, mine.Count,
                thumb is { FileDeleted: false } ? thumb.Id : null, t.Error);
        }).ToList();
    }

    private static async Task<IResult> CreateAsync(
        HttpContext http, IAntiforgery antiforgery, TaskActions actions, AppDbContext db, ImageGeneratorChain chain,
        IOptionsMonitor<ImageOptions> imageOptions, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            return TypedResults.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(ct);
        var opts = imageOptions.CurrentValue;
        var errors = new Dictionary<string, string>();
        var topic = form["topic"].ToString().Trim();
        var tone = Blank(form["tone"]);
        var audience = Blank(form["audience"]);
        var source = Blank(form["image_source"])?.ToLowerInvariant();
        if (topic.Length is < InputLimits.TopicMin or > InputLimits.Topic)
        {
            errors["topic"] = $"Write a topic of {InputLimits.TopicMin} to {InputLimits.Topic} characters.";
        }
        if (tone?.Length > InputLimits.Tone)
        {
            errors["tone"] = $"Keep the tone under {InputLimits.Tone} characters.";
        }
        if (audience?.Length > InputLimits.Audience)
        {
            errors["audience"] = $"Keep the audience under {InputLimits.Audience} characters.";
        }
        if (!int.TryParse(form["target_words"], out var words) || words is < 100 or > 10_000)
        {
            errors["target_words"] = "Choose a length between 100 and 10,000 words.";
        }
        if (!int.TryParse(form["num_variations"], out var variations) || variations < 1 || variations > opts.MaxVariations)
        {
            errors["num_variations"] = $"Choose between 1 and {opts.MaxVariations} images.";
        }
        if (source is not null && !chain.IsAvailable(source))
        {
            errors["image_source"] = "Choose one of the configured image sources.";
        }
        if (errors.Count > 0)
        {
            return await TasksPageAsync(http, db, chain, opts, null, null, errors, form, ct);
        }
        var (_, task) = await actions.CreateAsync(topic, tone, audience, words, variations, source, Actor(http.User), ct);
        return TypedResults.Redirect(HubUrls.Task(task!.Id));
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static async Task<RazorComponentResult> QueueAsync(HttpContext http, AppDbContext db, CancellationToken ct)
    {
        var tasks = await db.Tasks.AsNoTracking().Where(t => t.Status == WorkflowStatus.AwaitingApproval)
            .OrderBy(t => t.UpdatedAt).ThenBy(t => t.Id).Take(200).ToListAsync(ct);
        return new RazorComponentResult<QueuePage>(new { Hub = HubContext.For(http, "queue"), Rows = await RowsAsync(db, tasks, ct) });
    }

    // ---- one task ------------------------------------------------------------------------------

    private static async Task<IResult> TaskAsync(
        string id, HttpContext http, AppDbContext db, PreviewStore previews, TaskEventStream stream, IOptionsMonitor<ImageOptions> imageOptions,
        bool? saved, CancellationToken ct) =>
        await TaskPageAsync(id, http, db, previews, stream, imageOptions.CurrentValue, saved == true ? "Saved." : null, null, ct);

    private static async Task<IResult> TaskPageAsync(
        string id, HttpContext http, AppDbContext db, PreviewStore previews, TaskEventStream stream, ImageOptions images,
        string? notice, string? error, CancellationToken ct, int status = 200)
    {
        var task = Ids.IsValid(id) ? await TaskEndpoints.LoadAsync(db, id, previews, stream, ct) : null;
        if (task is null)
        {
            return new RazorComponentResult<NotFoundPage>(new { Hub = HubContext.For(http, "tasks"), What = "task" }) { StatusCode = 404 };
        }
        var history = await db.TaskEvents.AsNoTracking().Where(e => e.TaskId == id).OrderByDescending(e => e.Id).Take(200).ToListAsync(ct);
        return new RazorComponentResult<TaskPage>(new
        {
            Hub = HubContext.For(http, "tasks"),
            Task = task,
            History = history,
            Notice = notice,
            Error = error,
            MaxVariations = images.MaxVariations,
            DefaultVariations = images.DefaultVariations,
        }) { StatusCode = status };
    }

    /// <summary>The part of the task page that changes while the pipeline works, fetched again by htmx on each event.</summary>
    private static async Task<IResult> LiveAsync(string id, HttpContext http, AppDbContext db, PreviewStore previews, TaskEventStream stream, CancellationToken ct)
    {
        var task = Ids.IsValid(id) ? await TaskEndpoints.LoadAsync(db, id, previews, stream, ct) : null;
        return task is null
            ? TypedResults.NotFound()
            : new RazorComponentResult<TaskLive>(new { Hub = HubContext.For(http, "tasks"), Task = task });
    }

    /// <summary>The draft and its edit form, fetched again when the draft appears or stops being editable.</summary>
    private static async Task<IResult> SheetAsync(
        string id, HttpContext http, AppDbContext db, PreviewStore previews, TaskEventStream stream, IOptionsMonitor<ImageOptions> imageOptions, CancellationToken ct)
    {
        var task = Ids.IsValid(id) ? await TaskEndpoints.LoadAsync(db, id, previews, stream, ct) : null;
        return task is null
            ? TypedResults.NotFound()
            : new RazorComponentResult<TaskSheet>(new
            {
                Hub = HubContext.For(http, "tasks"),
                Task = task,
                imageOptions.CurrentValue.MaxVariations,
                imageOptions.CurrentValue.DefaultVariations,
                Refresh = true,
            });
    }

    /// <summary>
    /// Server-sent events for the page: progress arrives as a ready-to-swap progress bar; status
    /// changes and new images as a named event the page answers by fetching its live part again.
    /// </summary>
    private static IResult Events(string id, TaskEventStream stream, IDbContextFactory<AppDbContext> dbs, HttpContext http)
    {
        if (!Ids.IsValid(id))
        {
            return TypedResults.NotFound();
        }
        return TypedResults.ServerSentEvents(StreamAsync(id, stream, dbs, http.RequestServices, http.RequestAborted));
    }

    private static async IAsyncEnumerable<SseItem<string>> StreamAsync(
        string id, TaskEventStream stream, IDbContextFactory<AppDbContext> dbs, IServiceProvider services, [EnumeratorCancellation] CancellationToken ct)
    {
        using var subscription = stream.Subscribe(id);
        await using (var db = await dbs.CreateDbContextAsync(ct))
        {
            if (!await db.Tasks.AnyAsync(t => t.Id == id, ct))
            {
                yield break;
            }
        }
        // Whatever happened between the page render and this subscription: look again once.
        yield return new SseItem<string>("", "changed");
        yield return new SseItem<string>("", "sheet");
        await using var renderer = new HtmlRenderer(services, services.GetRequiredService<ILoggerFactory>());
        while (!ct.IsCancellationRequested)
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
            if (message.Data is ProgressData progress)
            {
                var html = await renderer.Dispatcher.InvokeAsync(async () =>
                    (await renderer.RenderComponentAsync<ProgressBar>(ParameterView.FromDictionary(new Dictionary<string, object?> { ["Progress"] = progress })))
                    .ToHtmlString());
                yield return new SseItem<string>(html, "progress");
            }
            else if (message.Data is LivePreview preview)
            {
                var html = await renderer.Dispatcher.InvokeAsync(async () =>
                    (await renderer.RenderComponentAsync<LivePreviewImage>(ParameterView.FromDictionary(new Dictionary<string, object?> { ["Preview"] = preview })))
                    .ToHtmlString());
                yield return new SseItem<string>(html, "preview");
            }
            else if (message.Data is DraftText draft)
            {
                var html = await renderer.Dispatcher.InvokeAsync(async () =>
                    (await renderer.RenderComponentAsync<DraftPreview>(ParameterView.FromDictionary(new Dictionary<string, object?> { ["Draft"] = draft })))
                    .ToHtmlString());
                yield return new SseItem<string>(html, "draft");
            }
            else if (message.Type is "status" or "image")
            {
                yield return new SseItem<string>("", "changed");
                if (message.Type == "status" && DraftChanged(JsonSerializer.SerializeToElement(message.Data)))
                {
                    yield return new SseItem<string>("", "sheet");
                }
            }
            else
            {
                yield return new SseItem<string>("", "history");
            }
        }
    }

    /// <summary>The draft was just written, or it became editable or stopped being so: the page's draft part must be drawn again.</summary>
    private static bool DraftChanged(JsonElement status)
    {
        var from = status.TryGetProperty("from", out var f) ? f.GetString() ?? "" : "";
        var to = status.TryGetProperty("status", out var t) ? t.GetString() ?? "" : "";
        return from == "writing" || TaskSheet.IsEditable(from) != TaskSheet.IsEditable(to);
    }

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

    // ---- gallery, posts, health, image bytes -----------------------------------------------------

    private static async Task<RazorComponentResult> GalleryAsync(
        HttpContext http, AppDbContext db, ImageGeneratorChain chain, string? source, string? status, string? task, string? q, string? cursor, CancellationToken ct)
    {
        var query = db.Images.AsNoTracking();
        source = Blank(source)?.ToLowerInvariant();
        status = Blank(status);
        task = Blank(task);
        q = Blank(q);
        if (source is not null && source.Length <= 50)
        {
            query = query.Where(i => i.Source == source);
        }
        if (CandidateStatuses.TryParse(status, out var parsed))
        {
            query = query.Where(i => i.Status == parsed);
        }
        else
        {
            status = null;
        }
        if (task is not null && Ids.IsValid(task))
        {
            query = query.Where(i => i.TaskId == task);
        }
        if (q is not null && q.Length <= 200)
        {
            var needle = q.ToLowerInvariant();
#pragma warning disable CA1304, CA1311, CA1862 // translated to SQL lower(), the same on both providers
            query = query.Where(i => i.Prompt.ToLower().Contains(needle));
#pragma warning restore CA1304, CA1311, CA1862
        }
        if (cursor is not null && Cursor.TryDecode(cursor, out var after))
        {
#pragma warning disable CA1309 // EF translates string.Compare, not its ordinal form; ids are ASCII hex
            query = query.Where(i => string.Compare(i.Id, after) < 0);
#pragma warning restore CA1309
        }
        var take = 36;
        var page = await query.OrderByDescending(i => i.Id).Take(take + 1).ToListAsync(ct);
        var items = page.Take(take).ToList();
        var taskIds = items.Where(i => i.TaskId != null).Select(i => i.TaskId!).Distinct().ToList();
        var titles = await db.Tasks.AsNoTracking().Where(t => taskIds.Contains(t.Id)).ToDictionaryAsync(t => t.Id, t => t.Title ?? t.Topic, ct);
        var sources = await db.Images.AsNoTracking().Select(i => i.Source).Distinct().ToListAsync(ct);
        return new RazorComponentResult<GalleryPage>(new
        {
            Hub = HubContext.For(http, "gallery"),
            Images = items,
            Titles = titles,
            Sources = sources.Union(chain.Configured).Order(StringComparer.Ordinal).ToList(),
            Source = source,
            Status = status,
            TaskFilter = task,
            Query = q,
            NextCursor = page.Count > take ? Cursor.Encode(items[^1].Id) : null,
        });
    }

    private static async Task<RazorComponentResult> PostsAsync(HttpContext http, AppDbContext db, CancellationToken ct)
    {
        var posts = await db.Posts.AsNoTracking().Where(p => p.Status == PostStatus.Published)
            .OrderByDescending(p => p.PublishedAt).Take(500).ToListAsync(ct);
        return new RazorComponentResult<PostsPage>(new { Hub = HubContext.For(http, "posts"), Posts = posts });
    }

    private static async Task<RazorComponentResult> HealthAsync(
        HttpContext http, HealthCheckService health, IConfiguration configuration, PreviewStore previews, CancellationToken ct)
    {
        var report = await health.CheckHealthAsync(ct);
        var files = previews.EnumerateOwnFiles().ToList();
        return new RazorComponentResult<HealthPage>(new
        {
            Hub = HubContext.For(http, "health"),
            Report = report,
            Settings = HubConfiguration.Describe(configuration),
            PreviewDirectory = previews.Directory,
            PreviewFiles = files.Count,
            PreviewBytes = files.Sum(f => f.Length),
        });
    }

    /// <summary>A candidate's preview for the Hub's own pages, found by id in the database, never by a path from the request.</summary>
    private static async Task<IResult> ImageFileAsync(string id, AppDbContext db, PreviewStore previews, HttpContext http, CancellationToken ct)
    {
        var image = Ids.IsValid(id) ? await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == id, ct) : null;
        if (image is null)
        {
            return TypedResults.NotFound();
        }
        if (image.FileDeleted || !previews.Exists(image.FileName))
        {
            return image.CdnUrl is not null ? TypedResults.Redirect(image.CdnUrl) : TypedResults.NotFound();
        }
        MediaEndpoints.SetImageHeaders(http.Response);
        return TypedResults.PhysicalFile(previews.PathOf(image.FileName), image.ContentType, enableRangeProcessing: true);
    }
}

public sealed record TaskRow(
    string Id, string Topic, string? Title, string Status, DateTime CreatedAt, DateTime UpdatedAt, int Candidates, string? ThumbnailId, string? Error);

/// <summary>
/// Failed Hub logins per client address, with the framework's fixed-window limiter: after five
/// failures in fifteen minutes, that address is refused until the window ends.
/// </summary>
public sealed class LoginThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<string> _failures = PartitionedRateLimiter.Create<string, string>(client =>
        RateLimitPartition.GetFixedWindowLimiter(client, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = 5,
            Window = TimeSpan.FromMinutes(15),
            QueueLimit = 0,
        }));

    public bool IsLockedOut(string client) => _failures.GetStatistics(client)?.CurrentAvailablePermits == 0;

    public void Failed(string client)
    {
        using var lease = _failures.AttemptAcquire(client);
    }

    public void Dispose() => _failures.Dispose();
}
