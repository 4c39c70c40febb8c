using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Proofsheet.IntegrationTests.Infrastructure;

namespace Proofsheet.IntegrationTests.Desk;

/// <summary>The reviewer's desk over the API (issue 11), on each database: stars, trash, rounds, unpublish, reopen, fixing a live post.</summary>
public abstract class DeskApiTests(TestDatabase database)
{
    private static List<JsonElement> Candidates(JsonElement task) =>
        task.GetProperty("metadata").GetProperty("image_variations").EnumerateArray().ToList();

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
    }

    [Fact]
    public async Task Stars_trash_restore_and_more_like_this()
    {
        await using var app = await TestApp.StartAsync(database);
        using var api = app.Api();
        var id = (await app.CreateTaskAsync("Write about plum cake", 2)).GetProperty("id").GetString()!;
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");
        var first = Candidates(task)[0];
        var imageId = first.GetProperty("image_id").GetString()!;
        Assert.Equal(0, first.GetProperty("stars").GetInt32());
        Assert.Equal(1, first.GetProperty("round").GetInt32());

        var rated = await api.PostAsJsonAsync($"/api/media/images/{imageId}/rating", new { stars = 4 });
        Assert.Equal(HttpStatusCode.OK, rated.StatusCode);
        Assert.Equal(4, (await rated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("stars").GetInt32());
        Assert.Equal(4, Candidates(await app.GetTaskAsync(id))[0].GetProperty("stars").GetInt32());
        await AssertProblemAsync(await api.PostAsJsonAsync($"/api/media/images/{imageId}/rating", new { stars = 6 }), HttpStatusCode.BadRequest);
        await AssertProblemAsync(await api.PostAsJsonAsync($"/api/media/images/{imageId}/rating", new { }), HttpStatusCode.BadRequest);
        await AssertProblemAsync(await api.PostAsJsonAsync("/api/media/images/0123456789abcdef0123456789abcdef/rating", new { stars = 1 }), HttpStatusCode.NotFound);
        Assert.Equal(4, Candidates(await app.GetTaskAsync(id))[0].GetProperty("stars").GetInt32()); // a refused request changed nothing

        // Many reviewers rating at once: every request answers, and the stars are one of theirs.
        var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => api.PostAsJsonAsync($"/api/media/images/{imageId}/rating", new { stars = i % 6 })));
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.InRange(Candidates(await app.GetTaskAsync(id))[0].GetProperty("stars").GetInt32(), 0, 5);

        // The trash keeps the file; restore brings the candidate back.
        Assert.Equal(HttpStatusCode.NoContent, (await api.DeleteAsync($"/api/media/images/{imageId}")).StatusCode);
        task = await app.GetTaskAsync(id);
        Assert.DoesNotContain(Candidates(task), c => c.GetProperty("image_id").GetString() == imageId);
        var trashed = Assert.Single(task.GetProperty("metadata").GetProperty("trash").EnumerateArray());
        Assert.Equal(imageId, trashed.GetProperty("image_id").GetString());
        Assert.True(File.Exists(Path.Combine(app.PreviewDirectory, trashed.GetProperty("filename").GetString()!)));
        var restored = await api.PostAsync($"/api/media/images/{imageId}/restore", null);
        Assert.Equal(HttpStatusCode.OK, restored.StatusCode);
        Assert.Contains(Candidates(await app.GetTaskAsync(id)), c => c.GetProperty("image_id").GetString() == imageId);
        await AssertProblemAsync(await api.PostAsync("/api/media/images/0123456789abcdef0123456789abcdef/restore", null), HttpStatusCode.NotFound);
        await AssertProblemAsync(await api.PostAsync("/api/media/images/..%2Fetc/restore", null), HttpStatusCode.NotFound);

        // More like this: new candidates from that one's prompt.
        await AssertProblemAsync(await api.PostAsJsonAsync($"/api/media/images/{imageId}/more-like-this", new { num_variations = 0 }), HttpStatusCode.BadRequest);
        await AssertProblemAsync(await api.PostAsJsonAsync("/api/media/images/0123456789abcdef0123456789abcdef/more-like-this", new { num_variations = 1 }), HttpStatusCode.NotFound);
        var more = await api.PostAsJsonAsync($"/api/media/images/{imageId}/more-like-this", new { num_variations = 2 });
        Assert.Equal(HttpStatusCode.Accepted, more.StatusCode);
        // The request moved the task to generating_images before answering, so awaiting_approval from here on is
        // the new pair done. (Waiting to see generating_images first raced the title cards, which may be done already.)
        task = await app.WaitForStatusAsync(id, "awaiting_approval");
        var all = Candidates(task);
        Assert.Equal(4, all.Count);
        Assert.All(all.Skip(2), c => Assert.Equal(first.GetProperty("prompt").GetString(), c.GetProperty("prompt").GetString()));
    }

    [Fact]
    public async Task More_like_this_keeps_the_candidates_prompt_source_size_and_negative_prompt_with_new_seeds()
    {
        await using var app = await TestApp.StartAsync(database);
        using var api = app.Api();
        var id = (await app.CreateTaskAsync("Write about damson jam", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        // A candidate made with its own settings, unlike the task's defaults.
        var made = await api.PostAsJsonAsync("/api/media/generate-image", new
        {
            prompt = "a jar of dark jam on a windowsill, wide shot", task_id = id, negative_prompt = "people, hands",
            width = 640, height = 384, seed = 40, source = "titlecard",
        });
        Assert.Equal(HttpStatusCode.OK, made.StatusCode);
        var likeId = (await made.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("image").GetProperty("id").GetString()!;

        var more = await api.PostAsJsonAsync($"/api/media/images/{likeId}/more-like-this", new { num_variations = 2 });
        Assert.Equal(HttpStatusCode.Accepted, more.StatusCode);
        // While those are being made, asking again is refused with a reason, and nothing changes.
        var again = await api.PostAsJsonAsync($"/api/media/images/{likeId}/more-like-this", new { num_variations = 1 });
        if (again.StatusCode != HttpStatusCode.Accepted)
        {
            await AssertProblemAsync(again, HttpStatusCode.Conflict);
        }
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");

        var all = Candidates(task);
        var like = all.Single(c => c.GetProperty("image_id").GetString() == likeId);
        var news = all.Where(c => c.GetProperty("index").GetInt32() > like.GetProperty("index").GetInt32()).ToList();
        Assert.InRange(news.Count, 2, 3);
        Assert.All(news, c =>
        {
            Assert.Equal("a jar of dark jam on a windowsill, wide shot", c.GetProperty("prompt").GetString());
            Assert.Equal("people, hands", c.GetProperty("negative_prompt").GetString());
            Assert.Equal("titlecard", c.GetProperty("source").GetString());
            Assert.Equal(640, c.GetProperty("width").GetInt32());
            Assert.Equal(384, c.GetProperty("height").GetInt32());
        });
        var seeds = news.Select(c => c.GetProperty("seed").GetUInt64()).Append(like.GetProperty("seed").GetUInt64()).ToList();
        Assert.Equal(seeds.Count, seeds.Distinct().Count());
        // The next plain "generate more" is drawn with the task's own settings again.
        Assert.True((await api.PostAsJsonAsync($"/api/tasks/{id}/generate-more", new { num_variations = 1 })).IsSuccessStatusCode);
        var plain = Candidates(await app.WaitForStatusAsync(id, "awaiting_approval"))[^1];
        Assert.NotEqual(640, plain.GetProperty("width").GetInt32());
    }

    [Fact]
    public async Task Reject_with_feedback_starts_a_new_round_and_earlier_rounds_stay_choosable()
    {
        await using var app = await TestApp.StartAsync(database);
        using var api = app.Api();
        var id = (await app.CreateTaskAsync("Write about rhubarb fool", 2)).GetProperty("id").GetString()!;
        var round1 = Candidates(await app.WaitForStatusAsync(id, "awaiting_approval"));

        await AssertProblemAsync(await api.PostAsJsonAsync("/api/tasks/0123456789abcdef0123456789abcdef/reject", new { feedback = "x", regenerate = true }), HttpStatusCode.NotFound);
        var rejected = await api.PostAsJsonAsync($"/api/tasks/{id}/reject", new { feedback = "too dark", regenerate = true });
        Assert.Equal(HttpStatusCode.OK, rejected.StatusCode);
        var task = await app.WaitForStatusAsync(id, "awaiting_approval");
        var all = Candidates(task);
        Assert.Equal([1, 1, 2, 2], all.Select(c => c.GetProperty("round").GetInt32()));
        Assert.Equal(2, task.GetProperty("metadata").GetProperty("round").GetInt32());
        Assert.All(all.Where(c => c.GetProperty("round").GetInt32() == 2), c => Assert.Contains("too dark", c.GetProperty("negative_prompt").GetString(), StringComparison.Ordinal));
        Assert.All(round1, c => Assert.True(File.Exists(Path.Combine(app.PreviewDirectory, c.GetProperty("filename").GetString()!))));

        // new_prompt keeps working, and also keeps the earlier rounds.
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsJsonAsync($"/api/tasks/{id}/reject", new { feedback = "still not it", new_prompt = "a pale pink dessert in a glass" })).StatusCode);
        all = Candidates(await app.WaitForStatusAsync(id, "awaiting_approval"));
        Assert.Equal([1, 1, 2, 2, 3, 3], all.Select(c => c.GetProperty("round").GetInt32()));
        Assert.Equal("a pale pink dessert in a glass", all[^1].GetProperty("prompt").GetString());

        // A round-1 image can still be approved.
        var approved = await api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { image_id = round1[1].GetProperty("image_id").GetString() });
        Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        Assert.Equal("published", (await approved.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        await AssertProblemAsync(await api.PostAsJsonAsync($"/api/tasks/{id}/reject", new { feedback = "too late", regenerate = true }), HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Unpublish_reapprove_reopen_and_fix_a_live_post_with_301s_from_earlier_slugs()
    {
        await using var app = await TestApp.StartAsync(database);
        using var api = app.Api();
        using var reader = app.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        var id = (await app.CreateTaskAsync("Write about quince paste", 1)).GetProperty("id").GetString()!;
        var other = (await app.CreateTaskAsync("Write about medlar jelly", 1)).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        var otherTask = await app.WaitForStatusAsync(other, "awaiting_approval");

        await AssertProblemAsync(await api.PostAsync($"/api/tasks/{id}/unpublish", null), HttpStatusCode.Conflict); // a draft
        await AssertProblemAsync(await api.PostAsync("/api/tasks/0123456789abcdef0123456789abcdef/unpublish", null), HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/posts/quince-paste")).StatusCode);

        // Fix the live post: new title, meta description, slug; the old address moves for good.
        await AssertProblemAsync(await api.PatchAsJsonAsync($"/api/tasks/{id}", new { slug = "Not A Slug" }), HttpStatusCode.BadRequest);
        await AssertProblemAsync(await api.PatchAsJsonAsync($"/api/tasks/{id}", new { slug = otherTask.GetProperty("slug").GetString() }), HttpStatusCode.Conflict);
        var patched = await api.PatchAsJsonAsync($"/api/tasks/{id}", new { title = "Quince Paste, Set Firm", slug = "quince-paste-set-firm", meta_description = "How to set quince paste." });
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var moved = await reader.GetAsync("/posts/quince-paste");
        Assert.Equal(HttpStatusCode.MovedPermanently, moved.StatusCode);
        Assert.Equal("/posts/quince-paste-set-firm", moved.Headers.Location!.OriginalString);
        var live = await reader.GetStringAsync("/posts/quince-paste-set-firm");
        Assert.Contains("Quince Paste, Set Firm", live, StringComparison.Ordinal);
        Assert.Contains("How to set quince paste.", live, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await api.PatchAsJsonAsync($"/api/tasks/{id}", new { slug = "quince-paste-firm" })).StatusCode);
        foreach (var earlier in (string[])["quince-paste", "quince-paste-set-firm"])
        {
            var answer = await reader.GetAsync($"/posts/{earlier}");
            Assert.Equal(HttpStatusCode.MovedPermanently, answer.StatusCode);
            Assert.Equal("/posts/quince-paste-firm", answer.Headers.Location!.OriginalString);
        }

        // Two posts reaching for the same new address at once: one gets it, the other a 409, never a 500.
        var race = await Task.WhenAll(
            api.PatchAsJsonAsync($"/api/tasks/{id}", new { slug = "contested-address" }),
            api.PatchAsJsonAsync($"/api/tasks/{other}", new { slug = "contested-address" }));
        Assert.Single(race, r => r.StatusCode == HttpStatusCode.OK);
        await AssertProblemAsync(race.Single(r => r.StatusCode != HttpStatusCode.OK), HttpStatusCode.Conflict);
        var winner = race[0].StatusCode == HttpStatusCode.OK ? id : other;
        Assert.Equal(HttpStatusCode.OK, (await api.PatchAsJsonAsync($"/api/tasks/{winner}", new { slug = winner == id ? "quince-paste-firm" : "medlar-jelly" })).StatusCode);

        // Unpublish, concurrently: one wins, the others find a draft; the public pages drop it at once.
        var unpublished = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => api.PostAsync($"/api/tasks/{id}/unpublish", null)));
        Assert.Single(unpublished, r => r.StatusCode == HttpStatusCode.OK);
        Assert.All(unpublished.Where(r => r.StatusCode != HttpStatusCode.OK), r => Assert.Equal(HttpStatusCode.Conflict, r.StatusCode));
        Assert.Equal("awaiting_approval", (await app.GetTaskAsync(id)).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await reader.GetAsync("/posts/quince-paste-firm")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await reader.GetAsync("/posts/quince-paste")).StatusCode);
        Assert.DoesNotContain("quince-paste-firm", await reader.GetStringAsync("/feed.xml"), StringComparison.Ordinal);
        // … and approved again (the image was uploaded before).
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/posts/quince-paste-firm")).StatusCode);

        // Reopen a rejected task: its candidates come back from the trash.
        await AssertProblemAsync(await api.PostAsync($"/api/tasks/{other}/reopen", null), HttpStatusCode.Conflict);
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsJsonAsync($"/api/tasks/{other}/reject", new { feedback = "not now" })).StatusCode);
        var reopened = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => api.PostAsync($"/api/tasks/{other}/reopen", null)));
        Assert.Single(reopened, r => r.StatusCode == HttpStatusCode.OK);
        var back = await app.GetTaskAsync(other);
        Assert.Equal("awaiting_approval", back.GetProperty("status").GetString());
        Assert.Single(Candidates(back));
        await AssertProblemAsync(await api.PostAsync("/api/tasks/0123456789abcdef0123456789abcdef/reopen", null), HttpStatusCode.NotFound);
    }
}

public sealed class SqliteDeskApiTests() : DeskApiTests(new SqliteDatabase());

public sealed class PostgresDeskApiTests() : DeskApiTests(new PostgresDatabase());
