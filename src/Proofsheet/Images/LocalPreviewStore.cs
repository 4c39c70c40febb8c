using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Proofsheet.Data;

namespace Proofsheet.Images;

/// <summary>
/// The default store: the preview folder (<c>Storage:PreviewDirectory</c>) on this machine. Files
/// appear there only whole (written to a temporary name, flushed, then renamed). Right for one
/// node; nodes on separate machines need the <c>s3</c> store.
/// </summary>
public sealed class LocalPreviewStore(AppPaths paths, TimeProvider time, ILogger<LocalPreviewStore> logger) : IPreviewStore
{
    public string Provider => "local";

    public string Location => paths.PreviewDirectory;

    public async Task<StoredPreview> SaveAsync(string source, string owner, int variation, Stream content, string contentType, CancellationToken ct)
    {
        var fileName = PreviewNames.For(time.GetUtcNow(), source, owner, variation, contentType);
        var final = AppPaths.Inside(paths.PreviewDirectory, fileName);
        var temp = AppPaths.Inside(paths.PreviewDirectory, "." + fileName + "." + Guid.NewGuid().ToString("N")[..8] + PreviewNames.TempSuffix);
        try
        {
            Directory.CreateDirectory(paths.PreviewDirectory);
            long size;
            string sha;
            await using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
            {
                (size, sha) = await CopyHashingAsync(content, fs, ct);
                await fs.FlushAsync(ct);
                fs.Flush(flushToDisk: true);
            }
            // Never replace an existing file: every variation number is handed out once.
            File.Move(temp, final, overwrite: false);
            return new StoredPreview(fileName, size, sha);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new PreviewStoreException($"Could not write {fileName} into the preview folder: {ex.Message}", ex);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Copies while hashing, so the bytes are read once and never held whole.</summary>
    internal static async Task<(long Size, string Sha256)> CopyHashingAsync(Stream source, Stream destination, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[81920];
        long size = 0;
        int read;
        while ((read = await source.ReadAsync(buffer, ct)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            await destination.WriteAsync(buffer.AsMemory(0, read), ct);
            size += read;
        }
        return (size, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    public Task<bool> ExistsAsync(string fileName, CancellationToken ct) => Task.FromResult(File.Exists(PathOf(fileName)));

    public Task<PreviewContent?> OpenAsync(string fileName, CancellationToken ct)
    {
        var path = PathOf(fileName);
        try
        {
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 81920, FileOptions.Asynchronous | FileOptions.SequentialScan);
            return Task.FromResult<PreviewContent?>(new PreviewContent(stream, stream.Length, File.GetLastWriteTimeUtc(path)));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<PreviewContent?>(null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PreviewStoreException($"Could not read {fileName} from the preview folder: {ex.Message}", ex);
        }
    }

    public async Task SaveDerivativeAsync(string fileName, Stream content, string contentType, CancellationToken ct)
    {
        var final = AppPaths.Inside(paths.PreviewDirectory, fileName);
        var temp = AppPaths.Inside(paths.PreviewDirectory, "." + fileName + "." + Guid.NewGuid().ToString("N")[..8] + PreviewNames.TempSuffix);
        try
        {
            Directory.CreateDirectory(paths.PreviewDirectory);
            await using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
            {
                await content.CopyToAsync(fs, ct);
            }
            File.Move(temp, final, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new PreviewStoreException($"Could not write {fileName} into the preview folder: {ex.Message}", ex);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    public Task DeleteAsync(string fileName, CancellationToken ct)
    {
        TryDelete(PathOf(fileName));
        foreach (var derivative in PreviewNames.DerivativesOf(fileName))
        {
            TryDelete(PathOf(derivative));
        }
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<PreviewObject> ListAsync([EnumeratorCancellation] CancellationToken ct)
    {
        var dir = new DirectoryInfo(paths.PreviewDirectory);
        if (!dir.Exists)
        {
            yield break;
        }
        foreach (var file in dir.EnumerateFiles())
        {
            ct.ThrowIfCancellationRequested();
            if (PreviewNames.IsOwn(file.Name))
            {
                yield return new PreviewObject(file.Name, file.LastWriteTimeUtc, file.Length, PreviewNames.IsTemporary(file.Name));
            }
        }
        await Task.CompletedTask;
    }

    public string? LocalPathOf(string fileName) => PathOf(fileName);

    public string PathOf(string fileName) => AppPaths.Inside(paths.PreviewDirectory, fileName);

    public Task<HealthCheckResult> CheckHealthAsync(CancellationToken ct)
    {
        var probe = Path.Combine(paths.PreviewDirectory, ".health-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(paths.PreviewDirectory);
            File.WriteAllBytes(probe, [1]);
            File.Delete(probe);
            var free = new DriveInfo(paths.PreviewDirectory).AvailableFreeSpace;
            return Task.FromResult(HealthCheckResult.Healthy("the preview folder is writable",
                new Dictionary<string, object> { ["provider"] = Provider, ["free_bytes"] = free }));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("The preview folder is not writable.",
                data: new Dictionary<string, object> { ["provider"] = Provider }));
        }
    }

    private void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Could not delete the preview {File}: {Message}; the sweep will try again", Path.GetFileName(path), ex.Message);
        }
    }
}
