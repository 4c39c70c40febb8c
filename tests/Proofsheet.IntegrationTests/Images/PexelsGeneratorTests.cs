using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Proofsheet.Images;

namespace Proofsheet.IntegrationTests.Images;

public sealed class PexelsGeneratorTests
{
    private static Dictionary<string, string?> Config(PexelsStandIn pexels) => new()
    {
        ["Images:Providers"] = "pexels,titlecard",
        ["Images:Pexels:BaseUrl"] = pexels.BaseUrl,
        ["Images:Pexels:ApiKey"] = PexelsStandIn.Key,
        ["Images:Pexels:PerPage"] = "10",
    };

    private static ImageRequest Request(int count, string topic = "Lighthouses", IReadOnlyList<string>? keywords = null, IReadOnlyCollection<string>? exclude = null) => new()
    {
        Prompt = "a lighthouse on a rocky coast at dusk, cinematic photo, 8k",
        Topic = topic,
        Title = "Lighthouses of the North",
        Keywords = keywords ?? ["coastal lights", "navigation"],
        Count = count,
        ExcludeSourceUrls = exclude ?? [],
    };

    [Fact]
    public async Task Photos_come_with_attribution_and_their_page_url()
    {
        await using var pexels = await PexelsStandIn.StartAsync();
        pexels.Catalog["lighthouses"] = [new(1, "White lighthouse"), new(2, "Lighthouse at night", "Ana Lopes"), new(3, "Red lighthouse"), new(4, "Coast")];
        await using var app = ImagesHost.Build(Config(pexels));

        var images = await app.Generator<PexelsGenerator>().GenerateAsync(Request(3), null, CancellationToken.None);

        Assert.Equal(3, images.Count);
        Assert.Equal([PexelsStandIn.PageUrl(1), PexelsStandIn.PageUrl(2), PexelsStandIn.PageUrl(3)], images.Select(i => i.SourceUrl));
        Assert.Equal(new ImageAttribution("Ana Lopes", "https://www.pexels.com/@photographer-2"), images[1].Attribution);
        Assert.All(images, i => Assert.Equal("image/png", i.ContentType));
        Assert.All(images, i => Assert.Equal(12, i.Width));
        var search = Assert.Single(pexels.Searches);
        Assert.Equal("lighthouses", search["query"]);
        Assert.Equal("landscape", search["orientation"]);
        Assert.Equal("10", search["per_page"]);
        // The raw key, no "Bearer"; and the image host never sees it.
        Assert.Equal([PexelsStandIn.Key], pexels.SearchAuthorization);
        Assert.All(pexels.DownloadAuthorization, a => Assert.Equal("", a));
    }

    [Fact]
    public async Task Photos_already_offered_for_the_task_are_not_repeated()
    {
        await using var pexels = await PexelsStandIn.StartAsync();
        pexels.Catalog["lighthouses"] = [new(1, "White lighthouse"), new(2, "Lighthouse at night"), new(3, "Red lighthouse")];
        await using var app = ImagesHost.Build(Config(pexels));

        var images = await app.Generator<PexelsGenerator>().GenerateAsync(Request(2, exclude: [PexelsStandIn.PageUrl(1)]), null, CancellationToken.None);

        Assert.Equal([PexelsStandIn.PageUrl(2), PexelsStandIn.PageUrl(3)], images.Select(i => i.SourceUrl));
    }

    [Fact]
    public async Task Searches_fall_back_from_topic_to_keywords_to_prompt_concepts_and_skip_people()
    {
        await using var pexels = await PexelsStandIn.StartAsync();
        pexels.Catalog["navigation"] = [new(7, "Compass on a map")];
        pexels.Catalog["lighthouse rocky coast"] = [new(8, "Lighthouse on rocks"), new(9, "Stormy coast")];
        await using var app = ImagesHost.Build(Config(pexels));

        var images = await app.Generator<PexelsGenerator>().GenerateAsync(
            Request(3, topic: "Portrait of a lighthouse keeper woman", keywords: ["lighthouse keeper man", "navigation"]), null, CancellationToken.None);

        Assert.Equal([PexelsStandIn.PageUrl(7), PexelsStandIn.PageUrl(8), PexelsStandIn.PageUrl(9)], images.Select(i => i.SourceUrl));
        Assert.Equal(["lighthouses of the north", "navigation", "lighthouse rocky coast"], pexels.Searches.Select(s => s["query"].ToString()));
    }

    [Fact]
    public async Task Photos_whose_description_hits_the_blocklist_are_left_out()
    {
        await using var pexels = await PexelsStandIn.StartAsync();
        pexels.Catalog["beaches"] = [new(1, "Person in a bikini on the sand"), new(2, "Empty beach at sunrise")];
        await using var app = ImagesHost.Build(Config(pexels));

        var images = await app.Generator<PexelsGenerator>().GenerateAsync(Request(2, topic: "Beaches", keywords: []), null, CancellationToken.None);

        Assert.Equal(PexelsStandIn.PageUrl(2), Assert.Single(images).SourceUrl);
    }

    [Fact]
    public async Task Nothing_suitable_is_a_clear_error_naming_the_searches()
    {
        await using var pexels = await PexelsStandIn.StartAsync();
        await using var app = ImagesHost.Build(Config(pexels));

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() =>
            app.Generator<PexelsGenerator>().GenerateAsync(Request(1, keywords: []), null, CancellationToken.None));

        Assert.StartsWith("Pexels found no suitable new photo for: lighthouses; lighthouses of the north;", ex.Message);
    }

    [Fact]
    public async Task A_429_without_headers_stops_pexels_until_the_backoff_is_over()
    {
        var time = new ManualTime();
        await using var pexels = await PexelsStandIn.StartAsync();
        pexels.Catalog["lighthouses"] = [new(1, "White lighthouse")];
        pexels.RateLimited = true;
        await using var app = ImagesHost.Build(Config(pexels), time);
        var generator = app.Generator<PexelsGenerator>();

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() => generator.GenerateAsync(Request(1), null, CancellationToken.None));
        Assert.StartsWith("Pexels rate limit reached (429: more than 200 requests in an hour, or the monthly quota); not asking again before", ex.Message);
        Assert.Single(pexels.SearchAuthorization);

        // Still paused: no request goes out.
        pexels.RateLimited = false;
        ex = await Assert.ThrowsAsync<ImageGenerationException>(() => generator.GenerateAsync(Request(1), null, CancellationToken.None));
        Assert.StartsWith("Pexels rate limit reached (429: more than 200 requests in an hour, or the monthly quota); not asking again before", ex.Message);
        Assert.Single(pexels.SearchAuthorization);

        time.Advance(TimeSpan.FromMinutes(16));
        Assert.Single(await generator.GenerateAsync(Request(1), null, CancellationToken.None));
    }

    [Fact]
    public async Task A_used_up_monthly_quota_stops_pexels_until_it_renews_and_is_named_as_monthly()
    {
        var time = new ManualTime();
        await using var pexels = await PexelsStandIn.StartAsync();
        pexels.Catalog["lighthouses"] = [new(1, "White lighthouse"), new(2, "Red lighthouse")];
        pexels.Remaining = 0;
        pexels.Reset = time.GetUtcNow().AddHours(3);
        await using var app = ImagesHost.Build(Config(pexels), time);
        var generator = app.Generator<PexelsGenerator>();

        Assert.Single(await generator.GenerateAsync(Request(1), null, CancellationToken.None));
        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() => generator.GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.Equal($"Pexels' monthly request quota is used up; not asking again before {pexels.Reset:u}.", ex.Message);
        Assert.Single(pexels.Searches);
        var health = (await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(CancellationToken.None)).Entries["images:pexels"];
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Equal(0, health.Data["requests left this month"]);
        Assert.Equal(pexels.Reset.ToString("u", System.Globalization.CultureInfo.InvariantCulture), health.Data["monthly quota renews"]);
        Assert.Contains("monthly quota", health.Description);
    }

    [Fact]
    public async Task A_malformed_body_is_a_clear_error()
    {
        await using var pexels = await PexelsStandIn.StartAsync();
        pexels.Malformed = true;
        await using var app = ImagesHost.Build(Config(pexels));

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() => app.Generator<PexelsGenerator>().GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.Equal("Pexels answered the search with a body that is not JSON.", ex.Message);
    }

    [Fact]
    public async Task A_slow_search_times_out()
    {
        await using var pexels = await PexelsStandIn.StartAsync();
        pexels.Delay = TimeSpan.FromSeconds(30);
        var config = Config(pexels);
        config["Images:Pexels:Timeout"] = "00:00:00.300";
        await using var app = ImagesHost.Build(config);

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() => app.Generator<PexelsGenerator>().GenerateAsync(Request(1), null, CancellationToken.None));

        Assert.Equal("Pexels did not answer within 0.3 s.", ex.Message);
    }

    [Fact]
    public async Task A_rejected_key_is_explained_and_the_health_check_spends_no_request()
    {
        await using var pexels = await PexelsStandIn.StartAsync();
        var config = Config(pexels);
        config["Images:Pexels:ApiKey"] = "not-the-key";
        await using var app = ImagesHost.Build(config);

        var health = (await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(CancellationToken.None)).Entries["images:pexels"];
        Assert.Equal(HealthStatus.Healthy, health.Status);
        Assert.Empty(pexels.SearchAuthorization);

        var ex = await Assert.ThrowsAsync<ImageGenerationException>(() => app.Generator<PexelsGenerator>().GenerateAsync(Request(1), null, CancellationToken.None));
        Assert.Equal("Pexels answered 401: the API key in Images:Pexels:ApiKey was rejected.", ex.Message);
    }
}
