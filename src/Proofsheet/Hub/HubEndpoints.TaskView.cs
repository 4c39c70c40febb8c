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
using Proofsheet.People;
using Proofsheet.Posts;
using Proofsheet.Tasks;


namespace Proofsheet.Hub;

/// <summary>One task's page, its live parts and the server-sent events that refresh them.</summary>
public static partial class HubEndpoints
{
    private static async Task<IResult> TaskAsync(
        string id, HttpContext http, AppDbContext db, IPreviewStore previews, TaskEventStream stream, IOptionsMonitor<ImageOptions> imageOptions,
        bool? saved, CancellationToken ct) =>
        await TaskPageAsync(id, http, db, previews, stream, imageOptions.CurrentValue, saved == true ? "Saved." : null, null, ct);

    private static async Task<IResult> TaskPageAsync(
        string id, HttpContext http, AppDbContext db, IPreviewStore previews, TaskEventStream stream, ImageOptions images,
        string? notice, string? error, CancellationToken ct, int status = 200, TaskEdits? yours = null, string? newLinkUrl = null)
    {
        var task = Ids.IsValid(id) ? await TaskEndpoints.LoadAsync(db, id, previews, stream, ct) : null;
        if (task is null)
        {
            return new RazorComponentResult<NotFoundPage>(new { Hub = HubContext.For(http, "tasks"), What = "task" }) { StatusCode = 404 };
        }
        var history = await db.TaskEvents.AsNoTracking().Where(e => e.TaskId == id).OrderByDescending(e => e.Id).Take(200).ToListAsync(ct);
        var links = http.RequestServices.GetRequiredService<Review.ReviewLinks>();
        return new RazorComponentResult<TaskPage>(new
        {
            ReviewLinks = (await links.ListAsync(id, ct)).Select(links.ToResponse).ToList(),
            NewLinkUrl = newLinkUrl,
            Hub = HubContext.For(http, "tasks"),
            Task = task,
            History = history,
            Team = await db.People.AsNoTracking().Where(p => p.DisabledAt == null).OrderBy(p => p.Name).ToListAsync(ct),
            Notice = notice,
            Error = error,
            Yours = yours,
            MaxVariations = images.MaxVariations,
            DefaultVariations = images.DefaultVariations,
            Preview = stream.CurrentPreview(id),
        }) { StatusCode = status };
    }

    /// <summary>The part of the task page that changes while the pipeline works, fetched again by htmx on each event.</summary>
    private static async Task<IResult> LiveAsync(string id, HttpContext http, AppDbContext db, IPreviewStore previews, TaskEventStream stream, CancellationToken ct)
    {
        var task = Ids.IsValid(id) ? await TaskEndpoints.LoadAsync(db, id, previews, stream, ct) : null;
        return task is null
            ? TypedResults.NotFound()
            : new RazorComponentResult<TaskLive>(new { Hub = HubContext.For(http, "tasks"), Task = task, Preview = stream.CurrentPreview(id) });
    }

    /// <summary>The draft and its edit form, fetched again when the draft appears or stops being editable.</summary>
    private static async Task<IResult> SheetAsync(
        string id, HttpContext http, AppDbContext db, IPreviewStore previews, TaskEventStream stream, IOptionsMonitor<ImageOptions> imageOptions, CancellationToken ct)
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
    /// <param name="sheet">The <see cref="SheetStamp"/> of the sheet the page shows; its sheet is fetched again on connect only
    /// when the task's differs (each fetch replaced the edit form under a reviewer who had just started typing).</param>
    private static IResult Events(string id, string? sheet, TaskEventStream stream, IDbContextFactory<AppDbContext> dbs, HttpContext http)
    {
        if (!Ids.IsValid(id))
        {
            return TypedResults.NotFound();
        }
        return TypedResults.ServerSentEvents(StreamAsync(id, sheet, stream, dbs, http.RequestServices, AccessRecheck.For(http), http.RequestAborted));
    }

    /// <summary>What the task page's sheet (the draft and its edit form) is drawn from: the draft, and whether it can be edited.</summary>
    internal static string SheetStamp(string draftStamp, string status) => $"{draftStamp}-{(TaskSheet.IsEditable(status) ? "edit" : "read")}";

    private static async IAsyncEnumerable<SseItem<string>> StreamAsync(
        string id, string? sheet, TaskEventStream stream, IDbContextFactory<AppDbContext> dbs, IServiceProvider services, AccessRecheck access,
        [EnumeratorCancellation] CancellationToken ct)
    {
        // A revoked session or a removed person stops receiving at once, on every node, and the browser's
        // reconnect meets the sign-in like any other request.
        using var subscription = stream.Subscribe(id);
        string current;
        await using (var db = await dbs.CreateDbContextAsync(ct))
        {
            var task = await db.Tasks.AsNoTracking().SingleOrDefaultAsync(t => t.Id == id, ct);
            if (task is null)
            {
                yield break;
            }
            current = SheetStamp(DraftStamp.Of(task), task.Status.ToWire());
        }
        await using var renderer = new HtmlRenderer(services, services.GetRequiredService<ILoggerFactory>());
        // Whatever happened between the page render and this subscription: look again once. The
        // progress bar is not part of the live part's refresh (it keeps its own order), so it is sent too.
        yield return await ProgressItemAsync(renderer, stream.CurrentProgress(id));
        if (stream.CurrentDraft(id) is { } draftSoFar)
        {
            // The pieces streamed before this page subscribed are not sent again; the draft so far is.
            yield return await DraftItemAsync(renderer, draftSoFar);
        }
        if (stream.CurrentPreview(id) is { } shown)
        {
            // Likewise the image taking shape: the live part keeps its preview box (hx-preserve), so a preview
            // published after the page was drawn and before this subscription would otherwise wait for the next.
            yield return await PreviewItemAsync(renderer, shown);
        }
        yield return new SseItem<string>("", "changed");
        if (sheet != current)
        {
            yield return new SseItem<string>("", "sheet");
        }
        while (!ct.IsCancellationRequested)
        {
            TaskStreamMessage message;
            try
            {
                message = await subscription.Reader.ReadAsync(ct);
                if (!await access.StillAllowedAsync(ct))
                {
                    break;
                }
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
            if (message.Data is ProgressData progress)
            {
                yield return await ProgressItemAsync(renderer, progress);
            }
            else if (message.Data is LivePreview preview)
            {
                yield return await PreviewItemAsync(renderer, preview);
            }
            else if (message.Data is DraftText draft)
            {
                yield return await DraftItemAsync(renderer, draft);
            }
            else if (message.Type is "status" or "image")
            {
                if (message.Type == "status")
                {
                    // A status change ends the stage's progress (TaskEventStream forgets it too): the bar goes.
                    yield return await ProgressItemAsync(renderer, null);
                }
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

    private static async Task<SseItem<string>> ProgressItemAsync(HtmlRenderer renderer, ProgressData? progress)
    {
        var html = await renderer.Dispatcher.InvokeAsync(async () =>
            (await renderer.RenderComponentAsync<ProgressBar>(ParameterView.FromDictionary(new Dictionary<string, object?> { ["Progress"] = progress })))
            .ToHtmlString());
        return new SseItem<string>(html, "progress");
    }

    private static async Task<SseItem<string>> PreviewItemAsync(HtmlRenderer renderer, LivePreview preview)
    {
        var html = await renderer.Dispatcher.InvokeAsync(async () =>
            (await renderer.RenderComponentAsync<LivePreviewImage>(ParameterView.FromDictionary(new Dictionary<string, object?> { ["Preview"] = preview })))
            .ToHtmlString());
        return new SseItem<string>(html, "preview");
    }

    private static async Task<SseItem<string>> DraftItemAsync(HtmlRenderer renderer, DraftText draft)
    {
        var html = await renderer.Dispatcher.InvokeAsync(async () =>
            (await renderer.RenderComponentAsync<DraftPreview>(ParameterView.FromDictionary(new Dictionary<string, object?> { ["Draft"] = draft })))
            .ToHtmlString());
        return new SseItem<string>(html, "draft");
    }

    /// <summary>The draft was just written, or it became editable or stopped being so: the page's draft part must be drawn again.</summary>
    private static bool DraftChanged(JsonElement status)
    {
        var from = status.TryGetProperty("from", out var f) ? f.GetString() ?? "" : "";
        var to = status.TryGetProperty("status", out var t) ? t.GetString() ?? "" : "";
        return from == "writing" || TaskSheet.IsEditable(from) != TaskSheet.IsEditable(to);
    }
}
