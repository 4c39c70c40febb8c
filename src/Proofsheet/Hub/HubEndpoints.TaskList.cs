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

/// <summary>The task list, the new-task form and the review queue.</summary>
public static partial class HubEndpoints
{
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
                thumb is { FileDeleted: false } ? thumb.Id : null, t.Error, t.AssigneeId);
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
        var (_, task) = await actions.CreateAsync(topic, tone, audience, words, variations, source, Actor(http.User), ct, Proofsheet.People.PersonClaims.PersonId(http.User));
        return TypedResults.Redirect(HubUrls.Task(task!.Id));
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static async Task<IResult> QueueAsync(HttpContext http, AppDbContext db, string? mine, string? cursor, CancellationToken ct) =>
        await QueuePageAsync(http, db, ct, mine: mine, cursor: cursor);

    /// <summary>
    /// Tasks on one page of the review queue. Every open queue page polls for its rows every few seconds, so a
    /// page is what a reviewer works through, not the whole backlog (200 rows were a 440 KB answer per poll).
    /// </summary>
    internal const int QueuePageSize = 25;

    private static async Task<IResult> QueuePageAsync(
        HttpContext http, AppDbContext db, CancellationToken ct, string? error = null, int status = 200, bool rowsOnly = false, string? mine = null, string? cursor = null)
    {
        var query = db.Tasks.AsNoTracking().Where(t => t.Status == WorkflowStatus.AwaitingApproval);
        // "Assigned to me": what a reviewer may decide, or an editor was asked to.
        var onlyMine = mine is "1" or "true";
        if (onlyMine)
        {
            var me = Proofsheet.People.PersonClaims.PersonId(http.User);
            query = query.Where(t => t.AssigneeId == me);
        }
        var total = await query.CountAsync(ct);
        // Oldest first, by when each task last changed, then by id: a keyset on the (Status, UpdatedAt, Id) index.
        // An address from an older page that no longer parses starts again at the oldest.
        var after = QueueCursor.TryDecode(cursor, out var position) ? position : ((DateTime, string)?)null;
        if (after is var (at, id))
        {
#pragma warning disable CA1309 // EF translates string.Compare, not its ordinal form; ids are ASCII hex
            query = query.Where(t => t.UpdatedAt > at || (t.UpdatedAt == at && string.Compare(t.Id, id) > 0));
#pragma warning restore CA1309
        }
        var page = await query.OrderBy(t => t.UpdatedAt).ThenBy(t => t.Id).Take(QueuePageSize + 1).ToListAsync(ct);
        var tasks = page.Take(QueuePageSize).ToList();
        var ids = tasks.Select(t => t.Id).ToList();
        var candidates = (await db.Images.AsNoTracking()
            .Where(i => i.TaskId != null && ids.Contains(i.TaskId) && (i.Status == CandidateStatus.Preview || i.Status == CandidateStatus.Selected))
            .Select(i => new QueueCandidate(i.TaskId!, i.Id, i.Variation, i.Stars, i.Status == CandidateStatus.Selected))
            .ToListAsync(ct)).ToLookup(c => c.TaskId);
        var rows = await RowsAsync(db, tasks, ct);
        var paging = new QueuePaging(total, after is null ? null : cursor, page.Count > QueuePageSize ? QueueCursor.Encode(tasks[^1]) : null, onlyMine);
        if (rowsOnly)
        {
            return new RazorComponentResult<QueueRows>(new { Hub = HubContext.For(http, "queue"), Rows = rows, Candidates = candidates, Paging = paging });
        }
        return new RazorComponentResult<QueuePage>(new
        {
            Hub = HubContext.For(http, "queue"),
            Rows = rows,
            Candidates = candidates,
            Error = error,
            Paging = paging,
        }) { StatusCode = status };
    }
}

/// <summary>Where a page of the review queue stands: how many wait in all, this page's cursor and the next one's.</summary>
public sealed record QueuePaging(int Total, string? Cursor, string? NextCursor, bool Mine)
{
    public static readonly QueuePaging None = new(0, null, null, false);

    private string Filter => Mine ? "mine=1" : "";

    /// <summary>This page again (what its rows poll).</summary>
    public string RowsUrl => Url("/hub/queue/rows", Cursor);

    public string? NextUrl => NextCursor is null ? null : Url("/hub/queue", NextCursor);

    public string FirstUrl => Url("/hub/queue", null);

    private string Url(string path, string? cursor)
    {
        var query = string.Join("&", new[] { Filter, cursor is null ? "" : "cursor=" + cursor }.Where(q => q.Length > 0));
        return query.Length == 0 ? path : $"{path}?{query}";
    }
}

/// <summary>The review queue's keyset cursor: the last task's UpdatedAt (ticks) and id, URL-safe.</summary>
internal static class QueueCursor
{
    public static string Encode(ContentTask last) =>
        System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.ASCII.GetBytes(FormattableString.Invariant($"{last.UpdatedAt.Ticks}.{last.Id}")));

    public static bool TryDecode(string? cursor, out (DateTime At, string Id) position)
    {
        position = default;
        if (cursor is null || cursor.Length > 100 || !System.Buffers.Text.Base64Url.IsValid(cursor))
        {
            return false;
        }
        var text = System.Text.Encoding.ASCII.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(cursor));
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || !long.TryParse(text.AsSpan(0, dot), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ticks)
            || ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks || !Ids.IsValid(text[(dot + 1)..]))
        {
            return false;
        }
        position = (new DateTime(ticks, DateTimeKind.Utc), text[(dot + 1)..]);
        return true;
    }
}
