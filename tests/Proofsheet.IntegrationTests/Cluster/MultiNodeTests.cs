using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Npgsql;
using Proofsheet.IntegrationTests.Images;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.IntegrationTests.Publishing;
using Proofsheet.IntegrationTests.Writing;
using Xunit.Abstractions;

namespace Proofsheet.IntegrationTests.Cluster;

/// <summary>
/// docs/deploy.md as an operator runs it: three app processes on one PostgreSQL database,
/// previews and published images in one S3 bucket (s3rver), Debian's nginx running
/// deploy/nginx.conf with TLS in front, an AUTOMATIC1111 pool whose jobs outlast several polls
/// and an OpenAI-compatible writer.
/// </summary>
public sealed partial class MultiNodeTests(S3rverFixture s3, ITestOutputHelper output) : IClassFixture<S3rverFixture>
{
    private const string Key = "multi-node-key-0123456789";
    private const string OtherKey = "multi-node-other-key-0123456789";
    private const string HubPassword = "multi-node hub password";
    private const int GenerationLimit = 45;

    [Fact]
    public async Task Three_nodes_behind_nginx_claim_each_step_once_and_share_previews_sessions_events_and_limits()
    {
        await using var env = await Cluster.StartAsync(s3, nodes: 3, jobTime: TimeSpan.FromMilliseconds(700));
        using var api = env.Proxy.Client();
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);

        // 30 tasks, spread over the nodes by nginx's round robin.
        var ids = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            var created = await api.PostAsJsonAsync("/api/tasks", new { topic = $"Write about Shared Ovens {i}", num_variations = 1 });
            Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
            ids.Add((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
        }
        foreach (var id in ids)
        {
            await WaitForStatusAsync(api, id, "awaiting_approval");
        }
        Assert.Equal(30, env.Writer.RequestCount);
        Assert.Equal(30, env.Gpus.Sum(g => g.Server.Txt2ImgCalls));
        Assert.All(env.Gpus, g => Assert.True(g.Recorder.Max <= 1, $"An image server ran {g.Recorder.Max} jobs at once."));
        output.WriteLine($"txt2img per server: {string.Join(", ", env.Gpus.Select(g => g.Server.Txt2ImgCalls))}");

        // Each task approved through a node other than the one that made its images.
        foreach (var id in ids)
        {
            var maker = await MakerOfAsync(api, id);
            var approver = env.Nodes.First(n => n.Id != maker);
            using var direct = approver.Process.Client(Key);
            var approve = await direct.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 });
            Assert.True(approve.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted, $"approve via {approver.Id}: {await approve.Content.ReadAsStringAsync()}");
        }
        foreach (var id in ids)
        {
            await WaitForStatusAsync(api, id, "published");
        }
        // Each image, its social card and one WebP copy (the stand-in's images are narrower than 480 px: one copy at their own width).
        Assert.Equal(90, (await env.PublishedObjectsAsync()).Count);

        // A Hub session made through nginx (Secure cookie over https) works on every node.
        var cookies = new CookieContainer();
        using (var hub = env.Proxy.Client(cookies))
        {
            var form = await hub.GetStringAsync("/hub/login");
            var field = HiddenInput().Match(form);
            var login = await hub.PostAsync("/hub/login", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                [field.Groups[1].Value] = WebUtility.HtmlDecode(field.Groups[2].Value),
                ["password"] = HubPassword,
                ["returnUrl"] = "/hub/tasks",
            }));
            Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
            Assert.Contains(login.Headers.GetValues("Set-Cookie"), c => c.StartsWith("proofsheet_hub=", StringComparison.Ordinal) && c.Contains("secure", StringComparison.OrdinalIgnoreCase));
            for (var i = 0; i < 6; i++) // round robin: every node serves at least one of these
            {
                Assert.Equal(HttpStatusCode.OK, (await hub.GetAsync("/hub/tasks")).StatusCode);
            }
            var feed = await hub.GetStringAsync("/feed.xml");
            Assert.Contains($"<link>{env.Proxy.BaseUrl}/posts/", feed, StringComparison.Ordinal);
        }

        // An event stream held on each node shows the task whichever node runs it.
        var watched = (await (await api.PostAsJsonAsync("/api/tasks", new { topic = "Write about Watched Ovens", num_variations = 1 }))
            .Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        var streams = env.Nodes.Select(n => ReadEventsAsync(n.Process, watched)).ToList();
        var seen = await Task.WhenAll(streams);
        var runner = await MakerOfAsync(api, watched);
        for (var i = 0; i < env.Nodes.Count; i++)
        {
            Assert.Contains(seen[i], e => e.StartsWith("progress ", StringComparison.Ordinal));
            Assert.Contains("awaiting_approval", seen[i][^1], StringComparison.Ordinal);
        }
        Assert.Contains(env.Nodes, n => n.Id != runner);

        // The generation limit counts one client's requests on every node: the first 45 are let
        // through (and refused as empty), the next is limited, whichever node nginx sends it to.
        using var other = env.Proxy.Client();
        other.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OtherKey);
        for (var i = 0; i < GenerationLimit; i++)
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await other.PostAsJsonAsync("/api/tasks", new { topic = "" })).StatusCode);
        }
        Assert.Equal(HttpStatusCode.TooManyRequests, (await other.PostAsJsonAsync("/api/tasks", new { topic = "" })).StatusCode);
    }

    [Fact]
    public async Task A_node_killed_mid_run_has_its_tasks_finished_by_the_others_once()
    {
        await using var env = await Cluster.StartAsync(s3, nodes: 3, jobTime: TimeSpan.FromMilliseconds(1500));
        using var api = env.Proxy.Client();
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        var ids = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            var created = await api.PostAsJsonAsync("/api/tasks", new { topic = $"Write about Sturdy Ovens {i}", num_variations = 1 });
            ids.Add((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
        }

        // Wait until some node is in the middle of an image job, then kill it.
        Node victim;
        while (true)
        {
            var held = await env.LeasesAsync();
            var busy = held.FirstOrDefault(l => l.Status == "generating_images");
            if (busy.Owner is not null)
            {
                victim = env.Nodes.Single(n => n.Id == busy.Owner);
                break;
            }
            await Task.Delay(20);
        }
        victim.Process.Kill();
        var inFlight = (await env.LeasesAsync()).Where(l => l.Owner == victim.Id).ToList();
        output.WriteLine($"killed {victim.Id} holding {string.Join(", ", inFlight.Select(l => l.Status))}");
        Assert.NotEmpty(inFlight);

        var survivors = env.Nodes.Where(n => n != victim).ToList();
        using var survivor = survivors[0].Process.Client(Key);
        foreach (var id in ids)
        {
            await WaitForStatusAsync(survivor, id, "awaiting_approval");
        }
        // Backend work is repeated only for the steps the dead node had in flight.
        var writes = env.Writer.RequestCount;
        var draws = env.Gpus.Sum(g => g.Server.Txt2ImgCalls);
        Assert.InRange(writes, 12, 12 + inFlight.Count(l => l.Status == "writing"));
        Assert.InRange(draws, 12, 12 + inFlight.Count(l => l.Status == "generating_images"));

        foreach (var id in ids)
        {
            // A resumed generation numbers its images after the reserved ones of the dead node's try.
            var task = await survivor.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}");
            var index = task.GetProperty("metadata").GetProperty("image_variations")[0].GetProperty("index").GetInt32();
            var approve = await survivor.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index });
            Assert.True(approve.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted, await approve.Content.ReadAsStringAsync());
        }
        foreach (var id in ids)
        {
            await WaitForStatusAsync(survivor, id, "published");
            var history = await survivor.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}/history");
            Assert.Single(history.EnumerateArray(), e => e.GetProperty("to_status").GetString() == "published");
        }
        Assert.Equal(36, (await env.PublishedObjectsAsync()).Count); // each image, its social card and one WebP copy (see above)
    }

    /// <summary>The node that made a task's images, as its history records.</summary>
    private static async Task<string> MakerOfAsync(HttpClient api, string id)
    {
        var history = await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}/history");
        return history.EnumerateArray().Last(e => e.GetProperty("to_status").GetString() == "awaiting_approval").GetProperty("node").GetString()!;
    }

    private static async Task WaitForStatusAsync(HttpClient api, string id, string status)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (true)
        {
            var task = await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}");
            var current = task.GetProperty("status").GetString();
            if (current == status)
            {
                return;
            }
            Assert.True(current is not ("failed" or "cancelled" or "rejected") && DateTime.UtcNow < deadline, $"Task {id} is {current} ({task.GetProperty("error")}), not {status}.");
            await Task.Delay(100);
        }
    }

    /// <summary>Every event a node's stream sends for the task, until it shows awaiting_approval.</summary>
    private static async Task<List<string>> ReadEventsAsync(AppProcess node, string id)
    {
        using var client = node.Client(Key);
        client.Timeout = Timeout.InfiniteTimeSpan;
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        using var response = await client.GetAsync($"/api/tasks/{id}/events", HttpCompletionOption.ResponseHeadersRead, limit.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(limit.Token));
        var seen = new List<string>();
        string? name = null;
        while (await reader.ReadLineAsync(limit.Token) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                seen.Add($"{name} {line[6..]}");
                if (name == "status" && line.Contains("awaiting_approval", StringComparison.Ordinal))
                {
                    break;
                }
            }
        }
        return seen;
    }

    [GeneratedRegex("<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]+)\"")]
    private static partial Regex HiddenInput();

    private sealed record Node(string Id, AppProcess Process);

    private sealed record Gpu(Automatic1111StandIn Server, InFlightRecorder Recorder);

    private readonly record struct Lease(string? Owner, string Status);

    private sealed class Cluster : IAsyncDisposable
    {
        private readonly List<IAsyncDisposable> _owned = [];
        private string _connectionString = "";
        private string _prefix = "";
        private S3rverFixture _s3 = default!;

        public List<Node> Nodes { get; } = [];
        public List<Gpu> Gpus { get; } = [];
        public OpenAIStandIn Writer { get; private set; } = default!;
        public NginxProxy Proxy { get; private set; } = default!;

        public static async Task<Cluster> StartAsync(S3rverFixture s3, int nodes, TimeSpan jobTime)
        {
            var env = new Cluster { _s3 = s3, _prefix = "cluster-" + Guid.NewGuid().ToString("N")[..8] };
            var folder = Directory.CreateTempSubdirectory("proofsheet-cluster-").FullName;
            env._connectionString = await new PostgresDatabase().CreateAsync(folder);
            for (var i = 0; i < 2; i++)
            {
                var gpu = await Automatic1111StandIn.StartAsync();
                gpu.Delay = jobTime;
                gpu.Recorder = new InFlightRecorder();
                env._owned.Add(gpu);
                env.Gpus.Add(new Gpu(gpu, gpu.Recorder));
            }
            env.Writer = await OpenAIStandIn.StartAsync();
            env.Writer.Default = OpenAIStandIn.Article();
            env._owned.Add(env.Writer);

            // nginx needs the nodes' addresses and the nodes need nginx's: ports first, then both.
            var ports = Enumerable.Range(0, nodes).Select(_ => AppProcess.FreePort()).ToList();
            env.Proxy = await NginxProxy.StartAsync(ports.Select(p => $"http://127.0.0.1:{p}"));
            env._owned.Add(env.Proxy);
            var starting = ports.Select((port, i) => AppProcess.StartAsync(env.Settings(folder, i + 1), port: port)).ToList();
            try
            {
                await Task.WhenAll(starting);
            }
            catch
            {
                // Nodes that did start must not outlive a test whose other node failed to.
                foreach (var node in starting.Where(t => t.IsCompletedSuccessfully))
                {
                    await node.Result.DisposeAsync();
                }
                await env.DisposeAsync();
                throw;
            }
            for (var i = 0; i < starting.Count; i++)
            {
                env._owned.Add(starting[i].Result);
                env.Nodes.Add(new Node($"node-{i + 1}", starting[i].Result));
            }
            return env;
        }

        private Dictionary<string, string?> Settings(string folder, int n) => new()
        {
            ["Cluster:NodeId"] = $"node-{n}",
            ["DataDirectory"] = Path.Combine(folder, $"node-{n}", "data"),
            ["Storage:PreviewDirectory"] = Path.Combine(folder, $"node-{n}", "previews"),
            ["Database:Provider"] = "postgres",
            ["ConnectionStrings:Default"] = _connectionString,
            ["Storage:Previews:Provider"] = "s3",
            ["Storage:Previews:S3:ServiceUrl"] = _s3.ServiceUrl,
            ["Storage:Previews:S3:Bucket"] = S3rverFixture.Bucket,
            ["Storage:Previews:S3:Prefix"] = _prefix + "/previews",
            ["Storage:Previews:S3:AccessKey"] = S3rverFixture.AccessKey,
            ["Storage:Previews:S3:SecretKey"] = S3rverFixture.SecretKey,
            ["Publishing:Provider"] = "s3",
            ["Publishing:S3:ServiceUrl"] = _s3.ServiceUrl,
            ["Publishing:S3:Bucket"] = S3rverFixture.Bucket,
            ["Publishing:S3:KeyPrefix"] = _prefix + "/media",
            ["Publishing:S3:AccessKey"] = S3rverFixture.AccessKey,
            ["Publishing:S3:SecretKey"] = S3rverFixture.SecretKey,
            ["Publishing:S3:PublicBaseUrl"] = _s3.PublicBaseUrl,
            ["Publishing:PublicBaseUrl"] = Proxy.BaseUrl,
            ["ForwardedHeaders:KnownProxies"] = "127.0.0.1",
            ["Content:Provider"] = "openai",
            ["Content:OpenAI:BaseUrl"] = Writer.BaseUrl,
            ["Content:OpenAI:ApiKey"] = "sk-test-4f9c2a7e1b3d",
            ["Content:OpenAI:Model"] = "gpt-4o-mini",
            ["Images:Providers"] = "automatic1111",
            ["Images:Automatic1111:BaseUrls"] = string.Join(',', Gpus.Select(g => g.Server.BaseUrl)),
            ["Auth:ApiKeys"] = $"{Key},{OtherKey}",
            ["Auth:AdminPassword"] = HubPassword,
            ["RateLimits:Generation:PermitLimit"] = GenerationLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["RateLimits:Generation:Window"] = "01:00:00",
            ["Pipeline:PollInterval"] = "00:00:00.200",
            ["Pipeline:RetryBaseDelay"] = "00:00:00.100",
            ["Pipeline:LeaseDuration"] = "00:00:03",
            ["Logging:LogLevel:Default"] = "Warning",
        };

        public async Task<List<Lease>> LeasesAsync()
        {
            await using var connection = new NpgsqlConnection(_connectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("""SELECT "LeaseOwner", "Status" FROM tasks WHERE "LeaseOwner" IS NOT NULL""", connection);
            await using var reader = await command.ExecuteReaderAsync();
            var leases = new List<Lease>();
            while (await reader.ReadAsync())
            {
                leases.Add(new Lease(reader.GetString(0), reader.GetString(1)));
            }
            return leases;
        }

        public async Task<List<string>> PublishedObjectsAsync()
        {
            using var bucket = new AmazonS3Client(new BasicAWSCredentials(S3rverFixture.AccessKey, S3rverFixture.SecretKey),
                new AmazonS3Config { ServiceURL = _s3.ServiceUrl, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });
            var listing = await bucket.ListObjectsV2Async(new ListObjectsV2Request { BucketName = S3rverFixture.Bucket, Prefix = _prefix + "/media/" });
            return (listing.S3Objects ?? []).Select(o => o.Key).ToList();
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var owned in Enumerable.Reverse(_owned))
            {
                await owned.DisposeAsync();
            }
        }
    }
}
