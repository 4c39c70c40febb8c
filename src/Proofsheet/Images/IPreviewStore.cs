using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Proofsheet.Images;

public sealed record StoredPreview(string FileName, long ByteSize, string Sha256);

/// <summary>One object in the store, as a sweep sees it.</summary>
/// <param name="IsTemporary">A leftover of an interrupted write (only the local folder has those).</param>
public sealed record PreviewObject(string FileName, DateTime LastModifiedUtc, long Length, bool IsTemporary);

/// <summary>A preview being read. Dispose it to release the file or the connection.</summary>
public sealed class PreviewContent(Stream stream, long length, DateTimeOffset lastModified, IDisposable? owner = null) : IAsyncDisposable
{
    public Stream Stream { get; } = stream;
    public long Length { get; } = length;
    public DateTimeOffset LastModified { get; } = lastModified;

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync();
        owner?.Dispose();
    }
}

/// <summary>The store could not be reached or refused the request; worth trying again later.</summary>
public sealed class PreviewStoreException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Where candidate images wait for review: the local folder (one node) or an S3-compatible
/// bucket (any number of nodes). Everything that touches a preview goes through this, so a
/// node can show, approve, publish or delete a candidate another node generated. Objects are
/// named by <see cref="PreviewNames"/>; a name is written once and never replaced.
/// </summary>
public interface IPreviewStore
{
    /// <summary><c>local</c> or <c>s3</c>.</summary>
    string Provider { get; }

    /// <summary>Where the previews are, for people (the folder, or endpoint, bucket and prefix); never a secret.</summary>
    string Location { get; }

    /// <summary>Writes a new preview atomically: it appears whole under its traceable name or not at all.
    /// Reads <paramref name="content"/> from its current position to its end.</summary>
    /// <param name="owner">The task id, or for an image outside any task its own id.</param>
    /// <exception cref="PreviewStoreException">The store could not take it.</exception>
    Task<StoredPreview> SaveAsync(string source, string owner, int variation, Stream content, string contentType, CancellationToken ct);

    /// <summary>Writes a derivative of a preview (a name from <see cref="PreviewNames.Derivative"/>), atomically.
    /// Derivatives are made from the same bytes the same way, so a second write of a name (two nodes at once)
    /// replaces it with identical content.</summary>
    /// <exception cref="PreviewStoreException">The store could not take it.</exception>
    Task SaveDerivativeAsync(string fileName, Stream content, string contentType, CancellationToken ct);

    /// <exception cref="PreviewStoreException">The store could not be asked.</exception>
    Task<bool> ExistsAsync(string fileName, CancellationToken ct);

    /// <summary>The preview's bytes, or null when it is gone.</summary>
    /// <exception cref="PreviewStoreException">The store could not be asked.</exception>
    Task<PreviewContent?> OpenAsync(string fileName, CancellationToken ct);

    /// <summary>Best effort: a preview that is already gone, or a store that does not answer, is logged and
    /// left to the orphan sweep (which removes what the database no longer knows). Deleting a preview
    /// deletes its derivatives too.</summary>
    Task DeleteAsync(string fileName, CancellationToken ct);

    /// <summary>The store's own objects (names that <see cref="PreviewNames"/> could have made), with their age.</summary>
    IAsyncEnumerable<PreviewObject> ListAsync(CancellationToken ct);

    /// <summary>The file's path on this machine for the local store; null for a store that has no local files.</summary>
    string? LocalPathOf(string fileName);

    /// <summary>Whether previews can be written now (the folder is writable, the bucket answers).</summary>
    Task<HealthCheckResult> CheckHealthAsync(CancellationToken ct);
}

/// <summary>Preview names: <c>{source}_{yyyyMMdd_HHmmss}_{taskId}_var{N}.{ext}</c>, the same in every store.</summary>
public static partial class PreviewNames
{
    /// <summary>The local folder's in-progress writes end with this.</summary>
    public const string TempSuffix = ".partial";

    public static string ExtensionFor(string contentType) => contentType.ToLowerInvariant() switch
    {
        "image/png" => "png",
        "image/jpeg" or "image/jpg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "image/svg+xml" => "svg",
        _ => throw new ImageGenerationException($"Unsupported image type '{contentType}'."),
    };

    public static string For(DateTimeOffset now, string source, string owner, int variation, string contentType) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{SafePart(source)}_{now:yyyyMMdd_HHmmss}_{SafePart(owner)}_var{variation}.{ExtensionFor(contentType)}");

    /// <summary>A preview, or a leftover of an interrupted local write; anything else in the folder or bucket is not ours.</summary>
    public static bool IsOwn(string name) => OwnName().IsMatch(name);

    public static bool IsTemporary(string name) => name.EndsWith(TempSuffix, StringComparison.Ordinal);

    /// <summary>A derivative's name: the preview's name with its kind and <c>.webp</c> in place of its extension.</summary>
    public static string Derivative(string fileName, PreviewDerivative kind) =>
        $"{Path.GetFileNameWithoutExtension(fileName)}.{kind.ToString().ToLowerInvariant()}.webp";

    public static IEnumerable<string> DerivativesOf(string fileName) =>
        IsDerivative(fileName) ? [] : Enum.GetValues<PreviewDerivative>().Select(k => Derivative(fileName, k));

    public static bool IsDerivative(string name) => DerivativeName().IsMatch(name);

    /// <summary>The stem a preview and its derivatives share, which the sweep compares with the database's names.</summary>
    public static string StemOf(string name)
    {
        var stem = Path.GetFileNameWithoutExtension(IsTemporary(name) ? name[..^TempSuffix.Length] : name);
        return IsDerivative(name) ? Path.GetFileNameWithoutExtension(stem) : stem;
    }

    private static string SafePart(string s) => SafeChars().Replace(s, "");

    [GeneratedRegex("[^A-Za-z0-9-]")]
    private static partial Regex SafeChars();

    [GeneratedRegex(@"^\.?[A-Za-z0-9-]+_\d{8}_\d{6}_[A-Za-z0-9-]+_var\d+(\.(thumb|large))?\.(png|jpg|webp|gif|svg)(\.[0-9a-f]{8}\.partial)?$")]
    private static partial Regex OwnName();

    [GeneratedRegex(@"_var\d+\.(thumb|large)\.webp$")]
    private static partial Regex DerivativeName();
}

/// <summary>The sizes of a preview the Hub shows: a thumbnail for grids, a large view for comparing.</summary>
public enum PreviewDerivative
{
    /// <summary>At most 400 px on its longer side.</summary>
    Thumb,
    /// <summary>At most 1600 px on its longer side.</summary>
    Large,
}
