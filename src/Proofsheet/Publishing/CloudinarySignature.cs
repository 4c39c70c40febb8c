using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Proofsheet.Publishing;

/// <summary>
/// Cloudinary's request signature (signature version 2, as the current SDKs use it): every
/// parameter except the ones Cloudinary never signs, empty ones dropped, sorted by name,
/// <c>key=value</c> joined with <c>&amp;</c>, the API secret appended, hashed to lower-case hex.
/// </summary>
public static class CloudinarySignature
{
    /// <summary>Sent with the request but never part of the string to sign.</summary>
    private static readonly HashSet<string> Unsigned = new(StringComparer.Ordinal)
    {
        "file", "cloud_name", "resource_type", "api_key", "signature",
    };

    public static string StringToSign(IEnumerable<KeyValuePair<string, string?>> parameters) =>
        string.Join('&', parameters
            .Where(p => !Unsigned.Contains(p.Key) && !string.IsNullOrEmpty(p.Value))
            .OrderBy(p => p.Key, StringComparer.Ordinal)
            // Version 2: an '&' inside a value would otherwise let one parameter smuggle in another.
            .Select(p => p.Key + "=" + p.Value!.Replace("&", "%26", StringComparison.Ordinal)));

    public static string Sign(IEnumerable<KeyValuePair<string, string?>> parameters, string apiSecret, CloudinarySignatureAlgorithm algorithm = CloudinarySignatureAlgorithm.Sha1) =>
        Hash(StringToSign(parameters) + apiSecret, algorithm);

    /// <summary>The hash of a complete string to sign (secret already appended).</summary>
    public static string Hash(string stringToSignWithSecret, CloudinarySignatureAlgorithm algorithm)
    {
        var bytes = Encoding.UTF8.GetBytes(stringToSignWithSecret);
        // SHA-1 is what Cloudinary's signature protocol defines, not our choice of a security primitive.
#pragma warning disable CA5350
        var hash = algorithm == CloudinarySignatureAlgorithm.Sha256 ? SHA256.HashData(bytes) : SHA1.HashData(bytes);
#pragma warning restore CA5350
        return Convert.ToHexStringLower(hash);
    }

    public static CloudinarySignatureAlgorithm ParseAlgorithm(string? value) =>
        (value ?? "").Trim().ToLowerInvariant() switch
        {
            "" or "sha1" or "sha-1" => CloudinarySignatureAlgorithm.Sha1,
            "sha256" or "sha-256" => CloudinarySignatureAlgorithm.Sha256,
            _ => throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"Unknown Cloudinary signature algorithm '{value}'; use sha1 or sha256."), nameof(value)),
        };
}

public enum CloudinarySignatureAlgorithm
{
    Sha1,
    Sha256,
}
