using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Proofsheet.Publishing;

namespace Proofsheet.IntegrationTests.Publishing;

public sealed class CloudinaryStoreTests : IAsyncLifetime
{
    private CloudinaryStandIn _cloudinary = null!;
    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };

    public async Task InitializeAsync()
    {
        _cloudinary = await CloudinaryStandIn.StartAsync();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _cloudinary.DisposeAsync();
    }

    private CloudinaryStore Store(Action<CloudinaryOptions>? configure = null, TimeProvider? time = null, string? baseUrl = null)
    {
        var options = new CloudinaryOptions
        {
            CloudName = CloudinaryStandIn.CloudName,
            ApiKey = CloudinaryStandIn.ApiKey,
            ApiSecret = CloudinaryStandIn.ApiSecret,
            BaseUrl = baseUrl ?? _cloudinary.BaseUrl,
        };
        configure?.Invoke(options);
        return new CloudinaryStore(_http, Options.Create(options), time ?? TimeProvider.System, NullLogger<CloudinaryStore>.Instance);
    }

    private static TestImage Image(string key, int size = 300_000) => new(key, "image/png", size);

    [Theory]
    [InlineData("sha1")]
    [InlineData("sha256")]
    public async Task Signed_upload_is_accepted_and_stored_under_a_deterministic_public_id(string algorithm)
    {
        var image = Image("posts/making-muffins-3f2a");

        var asset = await Store(o => o.SignatureAlgorithm = algorithm).UploadAsync(image.Request(), CancellationToken.None);

        var stored = Assert.Single(_cloudinary.Assets).Value;
        Assert.Equal("posts/making-muffins-3f2a", stored.PublicId);
        Assert.Equal(algorithm, stored.SignatureAlgorithm);
        Assert.Equal(image.Bytes, stored.Bytes);
        Assert.Equal("image/png", stored.ContentType);
        Assert.Equal($"https://res.cloudinary.com/{CloudinaryStandIn.CloudName}/image/upload/v{stored.Version}/posts/making-muffins-3f2a.png", asset.Url);
        Assert.Equal("posts/making-muffins-3f2a", asset.ProviderId);
        var form = Assert.Single(_cloudinary.Forms);
        Assert.Equal("true", form["overwrite"]);
        Assert.Equal("true", form["invalidate"]);
        Assert.InRange(long.Parse(form["timestamp"], System.Globalization.CultureInfo.InvariantCulture),
            DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
    }

    [Fact]
    public async Task Folder_prefixes_the_public_id()
    {
        var asset = await Store(o => o.Folder = "/blog/featured/").UploadAsync(Image("abc").Request(), CancellationToken.None);

        Assert.Equal("blog/featured/abc", asset.ProviderId);
        Assert.True(_cloudinary.Assets.ContainsKey("blog/featured/abc"));
    }

    [Fact]
    public async Task Server_errors_are_retryable_and_the_retried_upload_yields_one_asset()
    {
        _cloudinary.FailuresToReturn.Enqueue(500);
        _cloudinary.FailuresToReturn.Enqueue(500);
        var store = Store();
        var image = Image("retry-me");

        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var ex = await Assert.ThrowsAsync<PublishingException>(() => store.UploadAsync(image.Request(), CancellationToken.None));
            Assert.True(ex.Retryable);
            Assert.Contains("HTTP 500", ex.Message, StringComparison.Ordinal);
            Assert.Contains("General Error", ex.Message, StringComparison.Ordinal);
        }
        var first = await store.UploadAsync(image.Request(), CancellationToken.None);
        // The pipeline may retry even after a success it never heard of: still one asset.
        var again = await store.UploadAsync(image.Request(), CancellationToken.None);

        Assert.Equal(4, _cloudinary.Requests);
        var stored = Assert.Single(_cloudinary.Assets).Value;
        Assert.Equal("retry-me", stored.PublicId);
        Assert.Equal(first.ProviderId, again.ProviderId);
        Assert.Equal(image.Bytes, stored.Bytes);
    }

    [Theory]
    [InlineData(420, true)]
    [InlineData(429, true)]
    [InlineData(500, true)]
    [InlineData(503, true)]
    [InlineData(400, false)]
    [InlineData(401, false)]
    [InlineData(403, false)]
    [InlineData(404, false)]
    public async Task Status_codes_map_to_retryable_or_not(int status, bool retryable)
    {
        _cloudinary.FailuresToReturn.Enqueue(status);

        var ex = await Assert.ThrowsAsync<PublishingException>(() => Store().UploadAsync(Image("x").Request(), CancellationToken.None));

        Assert.Equal(retryable, ex.Retryable);
        Assert.Contains($"HTTP {status}", ex.Message, StringComparison.Ordinal);
        Assert.Empty(_cloudinary.Assets);
    }

    [Fact]
    public async Task A_wrong_secret_is_refused_by_the_signature_check_and_not_retryable()
    {
        const string wrongSecret = "wrong-secret-value-123";

        var ex = await Assert.ThrowsAsync<PublishingException>(
            () => Store(o => o.ApiSecret = wrongSecret).UploadAsync(Image("sig").Request(), CancellationToken.None));

        Assert.False(ex.Retryable);
        Assert.Contains("HTTP 401", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Invalid Signature", ex.Message, StringComparison.Ordinal);
        Assert.Contains("String to sign - 'invalidate=true&overwrite=true&public_id=sig&timestamp=", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(wrongSecret, ex.ToString(), StringComparison.Ordinal);
        Assert.Empty(_cloudinary.Assets);
    }

    [Fact]
    public async Task A_wrong_api_key_is_not_retryable()
    {
        var ex = await Assert.ThrowsAsync<PublishingException>(
            () => Store(o => o.ApiKey = "999").UploadAsync(Image("key").Request(), CancellationToken.None));

        Assert.False(ex.Retryable);
        Assert.Contains("Invalid api_key 999", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_secret_never_reaches_an_exception_message_even_if_the_service_echoes_it()
    {
        _cloudinary.FailuresToReturn.Enqueue(400);
        _cloudinary.FailureMessage = $"Bad request, secret was {CloudinaryStandIn.ApiSecret}";

        var ex = await Assert.ThrowsAsync<PublishingException>(() => Store().UploadAsync(Image("echo").Request(), CancellationToken.None));

        Assert.DoesNotContain(CloudinaryStandIn.ApiSecret, ex.ToString(), StringComparison.Ordinal);
        Assert.Contains("Bad request, secret was ***", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_clock_more_than_an_hour_off_gets_a_stale_request_error()
    {
        var twoHoursAgo = new FixedTime(DateTimeOffset.UtcNow.AddHours(-2));

        var ex = await Assert.ThrowsAsync<PublishingException>(() => Store(time: twoHoursAgo).UploadAsync(Image("stale").Request(), CancellationToken.None));

        Assert.False(ex.Retryable);
        Assert.Contains("Stale request", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_timeout_is_retryable()
    {
        _cloudinary.Delay = TimeSpan.FromSeconds(30);

        var ex = await Assert.ThrowsAsync<PublishingException>(
            () => Store(o => o.Timeout = TimeSpan.FromMilliseconds(300)).UploadAsync(Image("slow").Request(), CancellationToken.None));

        Assert.True(ex.Retryable);
        Assert.Contains("did not answer", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_service_is_retryable()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var ex = await Assert.ThrowsAsync<PublishingException>(
            () => Store(baseUrl: $"http://127.0.0.1:{port}").UploadAsync(Image("down").Request(), CancellationToken.None));

        Assert.True(ex.Retryable);
        Assert.Contains("Could not reach Cloudinary", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_preview_that_breaks_while_streaming_is_retryable()
    {
        var image = Image("broken");
        var request = image.Request() with { Content = new ForwardOnlyStream(new MemoryStream(image.Bytes), failAfter: 100_000) };

        var ex = await Assert.ThrowsAsync<PublishingException>(() => Store().UploadAsync(request, CancellationToken.None));

        Assert.True(ex.Retryable);
        Assert.Empty(_cloudinary.Assets);
    }

    [Fact]
    public async Task Cancellation_by_the_caller_is_not_reported_as_an_upload_failure()
    {
        _cloudinary.Delay = TimeSpan.FromSeconds(30);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Store().UploadAsync(Image("cancelled").Request(), cts.Token));
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
