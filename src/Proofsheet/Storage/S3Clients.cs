using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Proofsheet.Storage;

/// <summary>How to reach an S3-compatible store; the publishing store and the preview store each have a section of these keys.</summary>
public interface IS3Connection
{
    /// <summary>The endpoint; empty means AWS S3 in <see cref="Region"/>.</summary>
    string? ServiceUrl { get; }
    string? AccessKey { get; }
    string? SecretKey { get; }
    string Region { get; }
    bool ForcePathStyle { get; }
    TimeSpan Timeout { get; }
}

/// <summary>The one way this app builds and talks to an S3 client, shared by every store that uses S3.</summary>
public static class S3Clients
{
    public static AmazonS3Client Create(IS3Connection o)
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = o.ForcePathStyle,
            AuthenticationRegion = o.Region,
            Timeout = o.Timeout,
            MaxErrorRetry = 2,
            // The SDK's default CRC trailers are not understood by most S3-compatible stores.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (string.IsNullOrWhiteSpace(o.ServiceUrl))
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(o.Region);
        }
        else
        {
            config.ServiceURL = o.ServiceUrl;
        }
        return new AmazonS3Client(new BasicAWSCredentials(o.AccessKey, o.SecretKey), config);
    }

    /// <summary>An error worth trying again later (the store is busy or down), as opposed to a refusal.</summary>
    public static bool IsRetryable(AmazonS3Exception ex)
    {
        var status = (int)ex.StatusCode;
        return status >= 500 || status is 408 or 429 || ex.ErrorCode is "SlowDown" or "RequestTimeout" or "InternalError";
    }

    public static bool IsNotFound(AmazonS3Exception ex) =>
        ex.StatusCode == System.Net.HttpStatusCode.NotFound || ex.ErrorCode is "NoSuchKey" or "NotFound";

    /// <summary>
    /// One PutObject (atomic: the object appears whole or not at all). A SigV4 request carries
    /// the SHA-256 of its body in its signature, so the SDK must read a body before sending it:
    /// a seekable body is read twice in place; an unseekable one (an object streamed from
    /// another store) is first gathered into memory, because the SDK would otherwise switch to
    /// aws-chunked bodies that many S3-compatible stores (s3rver, older MinIO, gateways) store
    /// verbatim instead of decoding.
    /// </summary>
    /// <returns>The size and the lowercase hex SHA-256 of what was stored.</returns>
    public static async Task<(long Size, string Sha256)> PutAsync(
        IAmazonS3 client, string bucket, string key, Stream body, string contentType, string? cacheControl, CancellationToken ct)
    {
        Stream seekable = body;
        MemoryStream? gathered = null;
        try
        {
            if (!body.CanSeek)
            {
                gathered = new MemoryStream();
                await body.CopyToAsync(gathered, ct);
                gathered.Position = 0;
                seekable = gathered;
            }
            var start = seekable.Position;
            var sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(seekable, ct));
            var size = seekable.Position - start;
            seekable.Position = start;
            var put = new PutObjectRequest
            {
                BucketName = bucket,
                Key = key,
                InputStream = seekable,
                AutoCloseStream = false,
                ContentType = contentType,
                UseChunkEncoding = false,
            };
            if (cacheControl is not null)
            {
                put.Headers.CacheControl = cacheControl;
            }
            put.Headers.ContentLength = size;
            await client.PutObjectAsync(put, ct);
            return (size, sha);
        }
        finally
        {
            if (gathered is not null)
            {
                await gathered.DisposeAsync();
            }
        }
    }
}
