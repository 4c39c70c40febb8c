using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Proofsheet.Cluster;
using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.Tasks;
using Proofsheet.Writing;

namespace Proofsheet.IntegrationTests.Cluster;

/// <summary>
/// A streamed draft and a live preview are far past NOTIFY's 8,000 bytes: another node's Hub page still
/// gets the same draft and the same image (sent in parts and put together again), not only "look again".
/// </summary>
public sealed class ClusterLiveTests
{
    private static readonly TestDatabase Postgres = new PostgresDatabase();

    [Fact]
    public async Task A_large_draft_and_live_preview_reach_another_nodes_hub_page_whole()
    {
        var backends = new LargeLiveBackends();
        var settings = new Dictionary<string, string?> { ["Pipeline:LeaseDuration"] = "00:00:03", ["Auth:AdminPassword"] = "correct horse battery" };
        await using var a = await TestApp.StartAsync(Postgres, settings, backends.Install);
        await using var b = await TestApp.StartAsync(Postgres, settings, backends.Install, sameDataAs: a);
        var id = (await a.CreateTaskAsync("Write about Long Drafts", 1)).GetProperty("id").GetString()!;
        await backends.Writing.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var watcher = await OtherNodeAsync(id, a, b);

        using var client = watcher.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        await LogInAsync(client);
        using var response = await client.GetAsync($"/hub/tasks/{id}/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // The writer reports its (large) draft once the page listens, then waits.
        backends.Report.TrySetResult();
        var draft = WebUtility.HtmlDecode(await NextEventAsync(reader, "draft", limit.Token));
        Assert.Contains(LargeLiveBackends.DraftText, draft, StringComparison.Ordinal);
        Assert.Contains($"{LargeLiveBackends.DraftText.Length} characters so far", draft, StringComparison.Ordinal);

        backends.FinishWriting.TrySetResult();
        var preview = WebUtility.HtmlDecode(await NextEventAsync(reader, "preview", limit.Token));
        Assert.Contains("data:image/png;base64," + Convert.ToBase64String(LargeLiveBackends.PreviewPng), preview, StringComparison.Ordinal);
        backends.FinishImages.TrySetResult();
        await a.WaitForStatusAsync(id, "awaiting_approval");
        a.DeleteFolder();
    }

    /// <summary>The data line of the next event called <paramref name="name"/>.</summary>
    private static async Task<string> NextEventAsync(StreamReader reader, string name, CancellationToken ct)
    {
        string? current = null;
        var data = new System.Text.StringBuilder();
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                current = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data.Append(data.Length > 0 ? "\n" : "").Append(line["data: ".Length..]);
            }
            else if (line.Length == 0)
            {
                if (current == name)
                {
                    return data.ToString();
                }
                current = null;
                data.Clear();
            }
        }
        throw new InvalidOperationException($"The stream ended before a {name} event.");
    }

    private static async Task LogInAsync(HttpClient client)
    {
        var form = await client.GetStringAsync("/hub/login");
        var match = System.Text.RegularExpressions.Regex.Match(form, "<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]+)\"");
        var login = await client.PostAsync("/hub/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            [match.Groups[1].Value] = WebUtility.HtmlDecode(match.Groups[2].Value),
            ["password"] = "correct horse battery",
            ["returnUrl"] = "/hub/tasks",
        }));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
    }

    private static async Task<TestApp> OtherNodeAsync(string taskId, TestApp a, TestApp b)
    {
        await using var db = a.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext();
        var owner = await db.Tasks.Where(t => t.Id == taskId).Select(t => t.LeaseOwner).SingleAsync();
        return owner == a.Services.GetRequiredService<NodeIdentity>().Id ? b : a;
    }

    /// <summary>A writer that reports a 30 kB draft (with quotes, newlines and non-ASCII, which grow when escaped) and a 40 kB live preview.</summary>
    private sealed class LargeLiveBackends : IArticleWriter, IImageGenerator
    {
        public static readonly string DraftText = string.Concat(Enumerable.Range(0, 600).Select(i => $"Paragraph {i}: \"crème brûlée\" — déjà vu 🍞.\n"));
        public static readonly byte[] PreviewPng = Proofsheet.Testing.Png.Large(40_000);
        private readonly OutlineWriter _writer = new();
        private readonly TitleCardGenerator _images = new();

        public TaskCompletionSource Writing { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Report { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource FinishWriting { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource FinishImages { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        string IArticleWriter.Name => "outline";
        string IImageGenerator.Name => "titlecard";

        public void Install(IServiceCollection services)
        {
            services.RemoveAll<IImageGenerator>();
            services.AddSingleton<IImageGenerator>(this);
            services.RemoveAll<ActiveWriter>();
            services.AddSingleton(new ActiveWriter(this));
        }

        public async Task<ArticleDraft> WriteAsync(ArticleRequest request, IProgress<string>? textSoFar, CancellationToken cancellationToken)
        {
            Writing.TrySetResult();
            await Report.Task.WaitAsync(cancellationToken);
            textSoFar?.Report(DraftText);
            await FinishWriting.Task.WaitAsync(cancellationToken);
            return await _writer.WriteAsync(request, cancellationToken);
        }

        public async Task<IReadOnlyList<GeneratedImage>> GenerateAsync(ImageRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
        {
            progress?.Report(new GenerationProgress(0, request.Count, "live preview") { Preview = new LivePreview(PreviewPng, "image/png") });
            await FinishImages.Task.WaitAsync(cancellationToken);
            return await _images.GenerateAsync(request, progress, cancellationToken);
        }
    }
}
