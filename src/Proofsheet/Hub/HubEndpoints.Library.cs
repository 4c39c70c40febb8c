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

/// <summary>The gallery, the published posts, backend health and candidate image bytes.</summary>
public static partial class HubEndpoints
{
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
        HttpContext http, HealthCheckService health, IConfiguration configuration, IPreviewStore previews, Cluster.ClusterStatus cluster, CancellationToken ct)
    {
        var report = await health.CheckHealthAsync(ct);
        var nodes = await cluster.ReadAsync(ct);
        var files = new List<PreviewObject>();
        try
        {
            await foreach (var file in previews.ListAsync(ct))
            {
                files.Add(file);
            }
        }
        catch (PreviewStoreException)
        {
            // The report above already says the store does not answer.
        }
        return new RazorComponentResult<HealthPage>(new
        {
            Hub = HubContext.For(http, "health"),
            Report = report,
            Settings = HubConfiguration.Describe(configuration),
            Nodes = nodes,
            PreviewProvider = previews.Provider,
            PreviewLocation = previews.Location,
            PreviewFiles = files.Count,
            PreviewBytes = files.Sum(f => f.Length),
        });
    }
}
