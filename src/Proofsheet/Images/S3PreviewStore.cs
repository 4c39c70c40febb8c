using System.Runtime.CompilerServices;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Proofsheet.Storage;

namespace Proofsheet.Images;

/// <summary>
/// Previews as objects in an S3-compatible bucket (<c>Storage:Previews:S3</c>), shared by every node:
/// a candidate generated on one node is shown, approved and published by any other. One PutObject
/// per preview, so an object appears whole or not at all (no temporary objects to sweep).
/// </summary>
public sealed class S3PreviewStore(IOptions<PreviewStorageOptions> options, TimeProvider time, ILogger<S3PreviewStore> logger) : IPreviewStore, IDisposable
{
    // Built on first use: the store is constructed even when the local store is selected.
    private readonly Lazy<AmazonS3Client> _client = new(() => S3Clients.Create(options.Value.S3));

    private PreviewS3Options O => options.Value.S3;

    public string Provider => "s3";

    public string Location => $"{(string.IsNullOrWhiteSpace(O.ServiceUrl) ? $"AWS S3 ({O.Region})" : O.ServiceUrl)}, bucket {O.Bucket}" +
                              (string.IsNullOrEmpty(Prefix) ? "" : $", prefix {Prefix}/");

    private string Prefix => O.Prefix?.Trim().Trim('/') ?? "";

    private string KeyOf(string fileName)
    {
        // Names come from the database, which only ever holds names this app made.
        if (!PreviewNames.IsOwn(fileName) || PreviewNames.IsTemporary(fileName))
        {
            throw new InvalidOperationException("A stored preview name is not one this app makes.");
        }
        return Prefix.Length == 0 ? fileName : Prefix + "/" + fileName;
    }

    public async Task<StoredPreview> SaveAsync(string source, string owner, int variation, Stream content, string contentType, CancellationToken ct)
    {
        var fileName = PreviewNames.For(time.GetUtcNow(), source, owner, variation, contentType);
        var (size, sha) = await Call($"store {fileName}", () => S3Clients.PutAsync(_client.Value, O.Bucket!, KeyOf(fileName), content, contentType, null, ct), ct);
        return new StoredPreview(fileName, size, sha);
    }

    public Task<bool> ExistsAsync(string fileName, CancellationToken ct) => Call($"look up {fileName}", async () =>
    {
        try
        {
            await _client.Value.GetObjectMetadataAsync(O.Bucket, KeyOf(fileName), ct);
            return true;
        }
        catch (AmazonS3Exception ex) when (S3Clients.IsNotFound(ex) && ex.ErrorCode != "NoSuchBucket")
        {
            return false;
        }
    }, ct);

    public Task<PreviewContent?> OpenAsync(string fileName, CancellationToken ct) => Call($"read {fileName}", async () =>
    {
        try
        {
            var response = await _client.Value.GetObjectAsync(O.Bucket, KeyOf(fileName), ct);
            return new PreviewContent(response.ResponseStream, response.ContentLength,
                response.LastModified is { } modified ? new DateTimeOffset(modified.ToUniversalTime()) : time.GetUtcNow(), response);
        }
        catch (AmazonS3Exception ex) when (S3Clients.IsNotFound(ex) && ex.ErrorCode != "NoSuchBucket")
        {
            return (PreviewContent?)null;
        }
    }, ct);

    public Task SaveDerivativeAsync(string fileName, Stream content, string contentType, CancellationToken ct) =>
        Call($"store {fileName}", () => S3Clients.PutAsync(_client.Value, O.Bucket!, KeyOf(fileName), content, contentType, null, ct), ct);

    public async Task DeleteAsync(string fileName, CancellationToken ct)
    {
        foreach (var name in PreviewNames.DerivativesOf(fileName).Prepend(fileName))
        {
            try
            {
                // Deleting a missing key succeeds in S3, so a repeated delete (or a derivative never made) is harmless.
                await Call($"delete {name}", () => _client.Value.DeleteObjectAsync(O.Bucket, KeyOf(name), ct), ct);
            }
            catch (PreviewStoreException ex)
            {
                logger.LogWarning("{Message}; the sweep will try again", ex.Message);
            }
        }
    }

    public async IAsyncEnumerable<PreviewObject> ListAsync([EnumeratorCancellation] CancellationToken ct)
    {
        var request = new ListObjectsV2Request { BucketName = O.Bucket, Prefix = Prefix.Length == 0 ? null : Prefix + "/" };
        while (true)
        {
            var page = await Call("list the previews", () => _client.Value.ListObjectsV2Async(request, ct), ct);
            foreach (var o in page.S3Objects ?? [])
            {
                var name = Prefix.Length == 0 ? o.Key : o.Key[(Prefix.Length + 1)..];
                if (PreviewNames.IsOwn(name) && !PreviewNames.IsTemporary(name))
                {
                    var modified = o.LastModified?.ToUniversalTime() ?? time.GetUtcNow().UtcDateTime;
                    yield return new PreviewObject(name, modified, o.Size ?? 0, false);
                }
            }
            if (page.IsTruncated != true || string.IsNullOrEmpty(page.NextContinuationToken))
            {
                yield break;
            }
            request.ContinuationToken = page.NextContinuationToken;
        }
    }

    public string? LocalPathOf(string fileName) => null;

    public async Task<HealthCheckResult> CheckHealthAsync(CancellationToken ct)
    {
        var data = new Dictionary<string, object> { ["provider"] = Provider, ["bucket"] = O.Bucket ?? "" };
        try
        {
            // HEAD bucket: proves the endpoint answers, the bucket exists and the key may use it.
            await Call("reach the bucket", () => _client.Value.HeadBucketAsync(new HeadBucketRequest { BucketName = O.Bucket }, ct), ct);
            return HealthCheckResult.Healthy("the preview bucket answers", data);
        }
        catch (PreviewStoreException ex)
        {
            return HealthCheckResult.Unhealthy(ex.Message, data: data);
        }
    }

    /// <summary>Every S3 failure becomes one exception that names the bucket and the failure, never a key or secret.</summary>
    private async Task<T> Call<T>(string what, Func<Task<T>> call, CancellationToken ct)
    {
        try
        {
            return await call();
        }
        catch (AmazonS3Exception ex)
        {
            throw new PreviewStoreException(
                $"The preview bucket '{O.Bucket}' refused to {what} (HTTP {(int)ex.StatusCode} {ex.ErrorCode})", ex);
        }
        catch (Exception ex) when (ex is AmazonServiceException or AmazonClientException or HttpRequestException or IOException
                                       || (ex is OperationCanceledException && !ct.IsCancellationRequested))
        {
            throw new PreviewStoreException(
                $"Could not {what} in the preview bucket '{O.Bucket}' at {O.ServiceUrl ?? "AWS"}: {ex.GetType().Name}", ex);
        }
    }

    public void Dispose()
    {
        if (_client.IsValueCreated)
        {
            _client.Value.Dispose();
        }
    }
}
