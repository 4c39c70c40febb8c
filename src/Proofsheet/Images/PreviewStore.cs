using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Proofsheet.Data;

namespace Proofsheet.Images;

public sealed record StoredPreview(string FileName, string FullPath, long ByteSize, string Sha256);

/// <summary>
/// The preview folder. Files appear there only whole (written to a temporary name, flushed,
/// then renamed) under traceable names: <c>{source}_{yyyyMMdd_HHmmss}_{taskId}_var{N}.{ext}</c>.
/// </summary>
public sealed partial class PreviewStore(AppPaths paths, TimeProvider time)
{
    public const string TempSuffix = ".partial";

    public string Directory => paths.PreviewDirectory;

    public static string ExtensionFor(string contentType) => contentType.ToLowerInvariant() switch
    {
        "image/png" => "png",
        "image/jpeg" or "image/jpg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "image/svg+xml" => "svg",
        _ => throw new ImageGenerationException($"Unsupported image type '{contentType}'."),
    };

    public string FileNameFor(string source, string owner, int variation, string contentType) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{SafePart(source)}_{time.GetUtcNow():yyyyMMdd_HHmmss}_{SafePart(owner)}_var{variation}.{ExtensionFor(contentType)}");

    /// <param name="owner">The task id, or for an image outside any task its own id.</param>
    public async Task<StoredPreview> SaveAsync(string source, string owner, int variation, GeneratedImage image, CancellationToken ct)
    {
        System.IO.Directory.CreateDirectory(paths.PreviewDirectory);
        var fileName = FileNameFor(source, owner, variation, image.ContentType);
        var final = AppPaths.Inside(paths.PreviewDirectory, fileName);
        var temp = AppPaths.Inside(paths.PreviewDirectory, "." + fileName + "." + Guid.NewGuid().ToString("N")[..8] + TempSuffix);
        try
        {
            await using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
            {
                await fs.WriteAsync(image.Data, ct);
                await fs.FlushAsync(ct);
                fs.Flush(flushToDisk: true);
            }
            // Never replace an existing file: every variation number is handed out once.
            File.Move(temp, final, overwrite: false);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        return new StoredPreview(fileName, final, image.Data.LongLength, Convert.ToHexStringLower(SHA256.HashData(image.Data)));
    }

    public string PathOf(string fileName) => AppPaths.Inside(paths.PreviewDirectory, fileName);

    public bool Exists(string fileName) => File.Exists(PathOf(fileName));

    public void Delete(string fileName) => TryDelete(PathOf(fileName));

    /// <summary>Files in the folder that look like ours (previews or leftovers of an interrupted write).</summary>
    public IEnumerable<FileInfo> EnumerateOwnFiles()
    {
        var dir = new DirectoryInfo(paths.PreviewDirectory);
        if (!dir.Exists)
        {
            return [];
        }
        return dir.EnumerateFiles().Where(f => OwnName().IsMatch(f.Name));
    }

    public static bool IsTemporary(FileInfo file) => file.Name.EndsWith(TempSuffix, StringComparison.Ordinal);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string SafePart(string s) => SafeChars().Replace(s, "");

    [GeneratedRegex("[^A-Za-z0-9-]")]
    private static partial Regex SafeChars();

    [GeneratedRegex(@"^\.?[A-Za-z0-9-]+_\d{8}_\d{6}_[A-Za-z0-9-]+_var\d+\.(png|jpg|webp|gif|svg)(\.[0-9a-f]{8}\.partial)?$")]
    private static partial Regex OwnName();
}
