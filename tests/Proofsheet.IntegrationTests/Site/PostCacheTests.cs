using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Proofsheet.Data;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.Posts;

namespace Proofsheet.IntegrationTests.Site;

/// <summary>
/// The public read path's cache and a change committing under it. Publishing evicted the cache after its
/// commit, so for a moment the task read "published" while the post page and API still served the old post
/// (WorkflowTests' republish test failed once so in a loop of full runs).
/// </summary>
public sealed class PostCacheTests
{
    [Fact]
    public async Task While_a_change_to_published_content_commits_public_reads_skip_the_cache()
    {
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?> { ["Posts:CacheDuration"] = "01:00:00" });
        using var api = app.Api();
        using var reader = app.CreateClient();
        var id = (await app.CreateTaskAsync("Write about Caching", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        await api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 });
        await app.WaitForStatusAsync(id, "published");
        // Cached now (for an hour).
        Assert.Equal("Caching", await TitleAsync(reader));
        Assert.Contains(">Caching<", await reader.GetStringAsync("/posts/caching"), StringComparison.Ordinal);

        var changes = app.Services.GetRequiredService<PublishedPostsChanged>();
        var dbs = app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>();
        using (changes.Hold())
        {
            await using (var db = await dbs.CreateDbContextAsync())
            {
                await db.Posts.Where(p => p.Slug == "caching").ExecuteUpdateAsync(u => u.SetProperty(p => p.Title, "Caching, Revised"));
            }
            // Committed and not yet announced: a reader that sees the commit anywhere must see it here too.
            Assert.Equal("Caching, Revised", await TitleAsync(reader));
            Assert.Contains(">Caching, Revised<", await reader.GetStringAsync("/posts/caching"), StringComparison.Ordinal);
            await changes.AnnounceAsync();
        }

        // Cached again once the change is over, with the new post.
        Assert.Equal("Caching, Revised", await TitleAsync(reader));
        await using (var db = await dbs.CreateDbContextAsync())
        {
            await db.Posts.Where(p => p.Slug == "caching").ExecuteUpdateAsync(u => u.SetProperty(p => p.Title, "Changed without an announcement"));
        }
        Assert.Equal("Caching, Revised", await TitleAsync(reader));
        app.DeleteFolder();
    }

    private static async Task<string?> TitleAsync(HttpClient reader) =>
        (await reader.GetFromJsonAsync<JsonElement>("/api/posts/caching")).GetProperty("title").GetString();
}
