using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Workflow;

public sealed class PreviewSweepTests
{
    [Fact]
    public async Task The_sweep_deletes_expired_previews_and_leftovers_and_nothing_else()
    {
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?> { ["Storage:PreviewRetentionDays"] = "7" });
        using var client = app.Api();
        var old = (await app.CreateTaskAsync("Write about Old Previews", 2)).GetProperty("id").GetString()!;
        var fresh = (await app.CreateTaskAsync("Write about Fresh Previews", 1)).GetProperty("id").GetString()!;
        var oldTask = await app.WaitForStatusAsync(old, "awaiting_approval");
        var freshTask = await app.WaitForStatusAsync(fresh, "awaiting_approval");
        await client.PostAsJsonAsync($"/api/tasks/{old}/select", new { index = 1 });

        await using (var db = app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext())
        {
            var eightDaysAgo = DateTime.UtcNow.AddDays(-8);
            await db.Images.Where(i => i.TaskId == old).ExecuteUpdateAsync(u => u.SetProperty(i => i.GeneratedAt, eightDaysAgo));
        }
        // Leftovers of an interrupted write, a file the database never recorded, and a file that is not ours.
        var partial = Path.Combine(app.PreviewDirectory, ".titlecard_20240101_000000_abc_var1.svg.0123abcd.partial");
        var orphan = Path.Combine(app.PreviewDirectory, "titlecard_20240101_000000_abc_var1.svg");
        var foreign = Path.Combine(app.PreviewDirectory, "holiday-photo.jpg");
        foreach (var f in new[] { partial, orphan, foreign })
        {
            await File.WriteAllTextAsync(f, "x");
            File.SetLastWriteTimeUtc(f, DateTime.UtcNow.AddHours(-1));
        }
        var recentOrphan = Path.Combine(app.PreviewDirectory, "titlecard_20240101_000000_def_var1.svg");
        await File.WriteAllTextAsync(recentOrphan, "still being recorded, perhaps");

        await app.Services.GetRequiredService<PreviewSweeper>().SweepAsync(CancellationToken.None);

        Assert.All(Files(oldTask), f => Assert.False(File.Exists(Path.Combine(app.PreviewDirectory, f))));
        Assert.All(Files(freshTask), f => Assert.True(File.Exists(Path.Combine(app.PreviewDirectory, f))));
        Assert.False(File.Exists(partial));
        Assert.False(File.Exists(orphan));
        Assert.True(File.Exists(foreign));
        Assert.True(File.Exists(recentOrphan));

        var after = await app.GetTaskAsync(old);
        Assert.Empty(after.GetProperty("metadata").GetProperty("image_variations").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, after.GetProperty("metadata").GetProperty("selected_image_index").ValueKind);
        var history = await client.GetFromJsonAsync<JsonElement>($"/api/tasks/{old}/history");
        Assert.Contains(history.EnumerateArray(), e => e.GetProperty("kind").GetString() == "previews_expired");
        var gallery = await client.GetFromJsonAsync<JsonElement>($"/api/media/images?task_id={old}&status=discarded");
        Assert.Equal(2, gallery.GetProperty("items").GetArrayLength());
        app.DeleteFolder();
    }

    [Fact]
    public async Task The_trash_keeps_a_file_for_TrashRetentionDays_then_the_sweep_deletes_it()
    {
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?> { ["Storage:TrashRetentionDays"] = "3" });
        using var client = app.Api();
        var id = (await app.CreateTaskAsync("Write about Trashed Previews", 2)).GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");
        var images = task.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().ToList();
        var (recent, old) = (images[0].GetProperty("image_id").GetString()!, images[1].GetProperty("image_id").GetString()!);
        await client.DeleteAsync($"/api/media/images/{recent}");
        await client.DeleteAsync($"/api/media/images/{old}");
        await using (var db = app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext())
        {
            var fourDaysAgo = DateTime.UtcNow.AddDays(-4);
            await db.Images.Where(i => i.Id == old).ExecuteUpdateAsync(u => u.SetProperty(i => i.TrashedAt, fourDaysAgo));
        }

        await app.Services.GetRequiredService<PreviewSweeper>().SweepAsync(CancellationToken.None);

        Assert.True(File.Exists(Path.Combine(app.PreviewDirectory, images[0].GetProperty("filename").GetString()!)));
        Assert.False(File.Exists(Path.Combine(app.PreviewDirectory, images[1].GetProperty("filename").GetString()!)));
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsync($"/api/media/images/{old}/restore", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/api/media/images/{recent}/restore", null)).StatusCode);
        app.DeleteFolder();
    }

    private static List<string> Files(JsonElement task) =>
        task.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().Select(v => v.GetProperty("filename").GetString()!).ToList();
}
