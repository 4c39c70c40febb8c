namespace Proofsheet.Data;

/// <summary>
/// The folders the app reads and writes, resolved once from configuration. Every file the
/// server touches lives under one of these; no request ever names a path.
/// </summary>
public sealed class AppPaths
{
    public AppPaths(IConfiguration configuration)
    {
        DataDirectory = Resolve(configuration["DataDirectory"] ?? "./data");
        PreviewDirectory = Resolve(configuration["Storage:PreviewDirectory"] ?? "~/Downloads/proofsheet-generated-images");
        MediaDirectory = Path.Combine(DataDirectory, "media");
    }

    public string DataDirectory { get; }
    public string PreviewDirectory { get; }
    public string MediaDirectory { get; }

    public void EnsureCreated()
    {
        Directory.CreateDirectory(DataDirectory);
        Directory.CreateDirectory(PreviewDirectory);
        Directory.CreateDirectory(MediaDirectory);
    }

    public static string Resolve(string path)
    {
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
        {
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            path = Path.Combine(home, path.Length > 2 ? path[2..] : "");
        }
        return Path.GetFullPath(path);
    }

    /// <summary>The full path of <paramref name="fileName"/> inside <paramref name="folder"/>, or an error if it would leave it.</summary>
    public static string Inside(string folder, string fileName)
    {
        var full = Path.GetFullPath(Path.Combine(folder, fileName));
        var root = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        if (!full.StartsWith(root, StringComparison.Ordinal))
        {
            throw new InvalidOperationException("A stored file name points outside its folder.");
        }
        return full;
    }
}
