namespace Proofsheet.Publishing;

/// <summary><c>Publishing:Cloudinary</c>. Required keys are checked at start only when <c>Publishing:Provider</c> is <c>cloudinary</c>.</summary>
public sealed class CloudinaryOptions
{
    public const string Section = "Publishing:Cloudinary";
    public string? CloudName { get; set; }
    public string? ApiKey { get; set; }
    public string? ApiSecret { get; set; }
    public string BaseUrl { get; set; } = "https://api.cloudinary.com";
    /// <summary>Prefixed to every public id (<c>blog/images</c> → <c>blog/images/{key}</c>).</summary>
    public string? Folder { get; set; }
    /// <summary><c>sha1</c> (Cloudinary's default) or <c>sha256</c> for accounts restricted to it.</summary>
    public string SignatureAlgorithm { get; set; } = "sha1";
    /// <summary>Large renders take tens of seconds to upload; Cloudinary suggests minutes.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(3);
}

/// <summary><c>Publishing:S3</c>: any S3-compatible store (AWS S3, MinIO, Cloudflare R2, …).</summary>
public sealed class S3Options : Storage.IS3Connection
{
    public const string Section = "Publishing:S3";
    /// <summary>The endpoint; empty means AWS S3 in <see cref="Region"/>.</summary>
    public string? ServiceUrl { get; set; }
    public string? Bucket { get; set; }
    public string? AccessKey { get; set; }
    public string? SecretKey { get; set; }
    public string Region { get; set; } = "us-east-1";
    /// <summary>Where the bucket's objects are publicly readable (a CDN in front of the bucket, or the bucket's public URL).</summary>
    public string? PublicBaseUrl { get; set; }
    /// <summary>Most S3-compatible stores (MinIO, R2, s3rver) want <c>{endpoint}/{bucket}/{key}</c>.</summary>
    public bool ForcePathStyle { get; set; } = true;
    public string? KeyPrefix { get; set; }
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(3);
}
