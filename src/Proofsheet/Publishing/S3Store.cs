using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Options;
using Proofsheet.Storage;

namespace Proofsheet.Publishing;

/// <summary>Any S3-compatible object store: AWS S3, MinIO, Cloudflare R2, Backblaze B2, …</summary>
public sealed class S3Store(IOptions<S3Options> options, ILogger<S3Store> logger) : IPublishingStore, IDisposable
{
    public const string CacheControl = "public, max-age=31536000, immutable";

    // Built on first use: the store is constructed even when another provider is selected.
    private readonly Lazy<AmazonS3Client> _client = new(() => S3Clients.Create(options.Value));

    public string Name => "s3";

    public async Task<PublishedAsset> UploadAsync(PublishRequest request, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var key = ObjectKey(request.Key, request.ContentType, o.KeyPrefix);
        try
        {
            var (size, _) = await S3Clients.PutAsync(_client.Value, o.Bucket!, key, request.Content, request.ContentType, CacheControl, cancellationToken);
            if (size != request.Length)
            {
                throw new PublishingException($"The image to upload was {size} bytes, not the {request.Length} recorded.", retryable: true);
            }
        }
        catch (AmazonS3Exception ex)
        {
            var status = (int)ex.StatusCode;
            logger.LogWarning("S3 rejected the upload of {Key} to bucket {Bucket}: HTTP {Status} {Code}", key, o.Bucket, status, ex.ErrorCode);
            throw new PublishingException($"S3 upload to bucket '{o.Bucket}' failed (HTTP {status} {ex.ErrorCode}): {ex.Message}", S3Clients.IsRetryable(ex), ex);
        }
        catch (AmazonServiceException ex)
        {
            // No HTTP answer (refused connection, DNS, timeout) arrives here without a status code.
            throw new PublishingException($"Could not reach the S3 store at {o.ServiceUrl ?? "AWS"}: {ex.Message}", retryable: true, ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or AmazonClientException)
        {
            // Also a broken read of the image itself (a preview streamed from another store).
            throw new PublishingException($"Could not copy the image to the S3 store at {o.ServiceUrl ?? "AWS"}: {ex.Message}", retryable: true, ex);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PublishingException($"The S3 store did not answer within {o.Timeout.TotalSeconds:0} s.", retryable: true, ex);
        }

        var url = o.PublicBaseUrl!.TrimEnd('/') + "/" + string.Join('/', key.Split('/').Select(Uri.EscapeDataString));
        logger.LogInformation("Uploaded {Key} to bucket {Bucket}: {Url}", key, o.Bucket, url);
        return new PublishedAsset(url, key);
    }

    public async Task DeleteAsync(string url, CancellationToken cancellationToken)
    {
        if (KeyOf(url) is not { } key)
        {
            return;
        }
        var o = options.Value;
        try
        {
            // S3 answers 204 whether or not the key existed: deleting twice is harmless.
            await _client.Value.DeleteObjectAsync(o.Bucket, key, cancellationToken);
            logger.LogInformation("Deleted {Key} from bucket {Bucket}", key, o.Bucket);
        }
        catch (AmazonS3Exception ex) when (S3Clients.IsNotFound(ex))
        {
            // Already gone (a bucket that answers 404 rather than 204).
        }
        catch (AmazonS3Exception ex)
        {
            throw new PublishingException($"S3 refused to delete '{key}' from bucket '{o.Bucket}' (HTTP {(int)ex.StatusCode} {ex.ErrorCode}).", S3Clients.IsRetryable(ex), ex);
        }
        catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or IOException)
        {
            throw new PublishingException($"Could not reach the S3 store at {o.ServiceUrl ?? "AWS"}: {ex.Message}", retryable: true, ex);
        }
    }

    public async Task<byte[]?> ReadAsync(string url, CancellationToken cancellationToken)
    {
        if (KeyOf(url) is not { } key)
        {
            return null;
        }
        var o = options.Value;
        try
        {
            using var response = await _client.Value.GetObjectAsync(o.Bucket, key, cancellationToken);
            using var buffer = new MemoryStream();
            await response.ResponseStream.CopyToAsync(buffer, cancellationToken);
            return buffer.ToArray();
        }
        catch (AmazonS3Exception ex) when (S3Clients.IsNotFound(ex))
        {
            return null;
        }
        catch (AmazonS3Exception ex)
        {
            throw new PublishingException($"S3 refused to read '{key}' from bucket '{o.Bucket}' (HTTP {(int)ex.StatusCode} {ex.ErrorCode}).", S3Clients.IsRetryable(ex), ex);
        }
        catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or IOException)
        {
            throw new PublishingException($"Could not reach the S3 store at {o.ServiceUrl ?? "AWS"}: {ex.Message}", retryable: true, ex);
        }
    }

    /// <summary>The object key behind one of this store's URLs (<c>PublicBaseUrl/key</c>); null for any other URL.</summary>
    private string? KeyOf(string url)
    {
        var root = options.Value.PublicBaseUrl?.TrimEnd('/') + "/";
        if (root.Length < 2 || !url.StartsWith(root, StringComparison.Ordinal))
        {
            return null;
        }
        var key = string.Join('/', url[root.Length..].Split('/').Select(Uri.UnescapeDataString));
        return key.Length == 0 || key.Split('/').Any(part => part is "" or "." or "..") ? null : key;
    }

    /// <summary>Readiness: <c>HeadBucket</c> proves the address, the keys and the bucket at the cost of no object.</summary>
    public async Task<string?> FindProblemAsync(CancellationToken ct)
    {
        var o = options.Value;
        try
        {
            await _client.Value.HeadBucketAsync(new HeadBucketRequest { BucketName = o.Bucket }, ct);
            return null;
        }
        catch (AmazonS3Exception ex)
        {
            return (int)ex.StatusCode switch
            {
                404 => $"The bucket '{o.Bucket}' does not exist at {o.ServiceUrl ?? "AWS"}.",
                403 => $"The S3 keys (Publishing:S3:AccessKey/SecretKey) may not use the bucket '{o.Bucket}' (403).",
                var status => $"The S3 store answered HeadBucket with HTTP {status} {ex.ErrorCode}.",
            };
        }
        catch (Exception ex) when (ex is HttpRequestException or AmazonServiceException or IOException or Amazon.Runtime.AmazonClientException)
        {
            return $"Could not reach the S3 store at {o.ServiceUrl ?? "AWS"}: {ex.Message}";
        }
    }

    internal static string ObjectKey(string key, string contentType, string? prefix)
    {
        var p = prefix?.Trim().Trim('/');
        var name = key.Trim().TrimStart('/') + "." + Images.PreviewNames.ExtensionFor(contentType);
        return string.IsNullOrEmpty(p) ? name : p + "/" + name;
    }

    public void Dispose()
    {
        if (_client.IsValueCreated)
        {
            _client.Value.Dispose();
        }
    }
}
