using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Proofsheet.Publishing;

namespace Proofsheet.IntegrationTests.Publishing;

public sealed class S3StoreTests(S3rverFixture s3) : IClassFixture<S3rverFixture>
{
    private S3Store Store(Action<S3Options>? configure = null)
    {
        var options = new S3Options
        {
            ServiceUrl = s3.ServiceUrl,
            Bucket = S3rverFixture.Bucket,
            AccessKey = S3rverFixture.AccessKey,
            SecretKey = S3rverFixture.SecretKey,
            PublicBaseUrl = s3.PublicBaseUrl,
            Timeout = TimeSpan.FromSeconds(30),
        };
        configure?.Invoke(options);
        return new S3Store(Options.Create(options), NullLogger<S3Store>.Instance);
    }

    [Fact]
    public async Task Readiness_is_a_HeadBucket_that_names_a_missing_bucket()
    {
        using var store = Store();
        using var missing = Store(o => o.Bucket = "no-such-bucket");

        Assert.Null(await store.FindProblemAsync(CancellationToken.None));
        Assert.Equal($"The bucket 'no-such-bucket' does not exist at {s3.ServiceUrl}.", await missing.FindProblemAsync(CancellationToken.None));
    }

    private static TestImage Image(string key, string contentType = "image/png", int size = 200_000) => new(key, contentType, size);

    [Fact]
    public async Task Upload_is_served_back_at_the_public_url_with_its_type_and_cache_headers()
    {
        using var store = Store(o => o.KeyPrefix = "/media/");
        var image = Image("posts/making-muffins", "image/jpeg");

        var asset = await store.UploadAsync(image.Request(), CancellationToken.None);

        Assert.Equal($"{s3.PublicBaseUrl}/media/posts/making-muffins.jpg", asset.Url);
        Assert.Equal("media/posts/making-muffins.jpg", asset.ProviderId);
        using var http = new HttpClient();
        using var response = await http.GetAsync(asset.Url);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(image.Bytes, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(S3Store.CacheControl, response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task Uploading_the_same_key_again_replaces_the_object()
    {
        using var store = Store(o => o.KeyPrefix = "idempotent");
        var first = Image("same-key");
        var second = Image("same-key");

        var a = await store.UploadAsync(first.Request(seekable: true), CancellationToken.None);
        var b = await store.UploadAsync(second.Request(), CancellationToken.None);

        Assert.Equal(a, b);
        using var client = new AmazonS3Client(new BasicAWSCredentials(S3rverFixture.AccessKey, S3rverFixture.SecretKey),
            new AmazonS3Config { ServiceURL = s3.ServiceUrl, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });
        var listing = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = S3rverFixture.Bucket, Prefix = "idempotent/" });
        var only = Assert.Single(listing.S3Objects);
        Assert.Equal("idempotent/same-key.png", only.Key);
        using var http = new HttpClient();
        Assert.Equal(second.Bytes, await http.GetByteArrayAsync(b.Url));
    }

    [Fact]
    public async Task Unknown_credentials_are_refused_and_not_retryable_and_the_secret_never_shown()
    {
        // s3rver checks the access key id but not V4 signatures, so the refusal comes from the key id.
        const string wrongSecret = "not-the-secret-0123456789";
        using var store = Store(o => (o.AccessKey, o.SecretKey) = ("UNKNOWNKEY", wrongSecret));

        var ex = await Assert.ThrowsAsync<PublishingException>(() => store.UploadAsync(Image("denied").Request(), CancellationToken.None));

        Assert.False(ex.Retryable);
        Assert.Contains("HTTP 403 InvalidAccessKeyId", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(wrongSecret, ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_bucket_is_not_retryable()
    {
        using var store = Store(o => o.Bucket = "no-such-bucket");

        var ex = await Assert.ThrowsAsync<PublishingException>(() => store.UploadAsync(Image("nowhere").Request(), CancellationToken.None));

        Assert.False(ex.Retryable);
        Assert.Contains("HTTP 404", ex.Message, StringComparison.Ordinal);
        Assert.Contains("no-such-bucket", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_store_is_retryable()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var store = Store(o => o.ServiceUrl = $"http://127.0.0.1:{port}");

        var ex = await Assert.ThrowsAsync<PublishingException>(() => store.UploadAsync(Image("down").Request(), CancellationToken.None));

        Assert.True(ex.Retryable);
    }
}
