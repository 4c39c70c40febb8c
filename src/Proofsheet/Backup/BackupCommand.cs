using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Npgsql;
using Proofsheet.Data;

namespace Proofsheet.Backup;

/// <summary>
/// <c>Proofsheet backup FILE</c> and <c>Proofsheet restore FILE</c>: one .tar.gz holding the
/// database (SQLite through its online backup API, PostgreSQL through <c>pg_dump</c>), the data
/// folder (the local media store) and the local preview folder. A backup runs beside the serving
/// app: the database copy is one consistent snapshot, taken before the folders are copied, so every
/// file the snapshot names was written before it. A restore goes only into an empty data folder,
/// empty preview folder and (PostgreSQL) a database without tables.
/// </summary>
public static class BackupCommand
{
    public const int FormatVersion = 1;
    private const string SqliteEntry = "database/proofsheet.db";
    private const string PostgresEntry = "database/proofsheet.pgdump";

    /// <summary>Runs the command in <paramref name="args"/> if there is one; returns its exit code, or null to run the app.</summary>
    public static async Task<int?> TryRunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("backup" or "restore"))
        {
            return null;
        }
        if (args.Length < 2 || args[1].StartsWith('-'))
        {
            await Console.Error.WriteLineAsync($"Usage: Proofsheet {args[0]} FILE [--Key value ...]  (the same configuration as the app)");
            return 2;
        }
        // The app's own configuration sources (appsettings.json, environment, --Key value flags), without starting it.
        var configuration = WebApplication.CreateBuilder(args[2..]).Configuration;
        var file = Path.GetFullPath(args[1]);
        try
        {
            if (args[0] == "backup")
            {
                var summary = await BackupAsync(configuration, file, CancellationToken.None);
                Console.WriteLine($"Backed up to {file}: {summary}");
            }
            else
            {
                var summary = await RestoreAsync(configuration, file, CancellationToken.None);
                Console.WriteLine($"Restored {file}: {summary}");
            }
            return 0;
        }
        catch (BackupException ex)
        {
            await Console.Error.WriteLineAsync($"{args[0]} failed: {ex.Message}");
            return 1;
        }
    }

    public static async Task<string> BackupAsync(IConfiguration configuration, string file, CancellationToken ct)
    {
        var setup = Setup.From(configuration);
        var staging = Directory.CreateTempSubdirectory("proofsheet-backup-").FullName;
        var partial = file + ".partial";
        try
        {
            // 1. The database, as one snapshot.
            string databaseEntry;
            var databaseCopy = Path.Combine(staging, "database");
            if (setup.Postgres)
            {
                await PgAsync("pg_dump", setup, ["--format=custom", "--no-owner", "--no-privileges", "--file", databaseCopy], ct);
                databaseEntry = PostgresEntry;
            }
            else
            {
                if (!File.Exists(setup.SqliteFile))
                {
                    throw new BackupException($"There is no database at {setup.SqliteFile}.");
                }
                // SQLite's online backup API: a consistent copy while the app keeps writing.
                await using var source = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = setup.SqliteFile, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 30 }.ToString());
                await using var target = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databaseCopy, Pooling = false }.ToString());
                await source.OpenAsync(ct);
                await target.OpenAsync(ct);
                source.BackupDatabase(target);
                databaseEntry = SqliteEntry;
            }

            // 2. The folders, after the snapshot: what it names was written before it.
            await using (var output = File.Create(partial))
            await using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
            await using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: false))
            {
                var manifest = new Manifest(FormatVersion, setup.Postgres ? "postgres" : "sqlite", DateTime.UtcNow, setup.PreviewsInS3 ? "s3" : "local");
                var manifestFile = Path.Combine(staging, "manifest.json");
                await File.WriteAllTextAsync(manifestFile, JsonSerializer.Serialize(manifest), ct);
                await tar.WriteEntryAsync(manifestFile, "manifest.json", ct);
                await tar.WriteEntryAsync(databaseCopy, databaseEntry, ct);
                var files = 0;
                files += await AddFolderAsync(tar, setup.Paths.DataDirectory, "data", setup.SkipInData, ct);
                if (!setup.PreviewsInS3)
                {
                    files += await AddFolderAsync(tar, setup.Paths.PreviewDirectory, "previews", _ => false, ct);
                }
                File.Move(partial, file, overwrite: true);
                return $"{manifest.Database} database and {files} files" + (setup.PreviewsInS3 ? " (previews are in S3: back up the bucket separately)" : "");
            }
        }
        finally
        {
            File.Delete(partial);
            Directory.Delete(staging, recursive: true);
        }
    }

    public static async Task<string> RestoreAsync(IConfiguration configuration, string file, CancellationToken ct)
    {
        var setup = Setup.From(configuration);
        if (!File.Exists(file))
        {
            throw new BackupException($"There is no backup at {file}.");
        }
        RequireEmpty(setup.Paths.DataDirectory, "data folder (DataDirectory)");
        if (!setup.PreviewsInS3)
        {
            RequireEmpty(setup.Paths.PreviewDirectory, "preview folder (Storage:PreviewDirectory)");
        }
        if (!setup.Postgres && File.Exists(setup.SqliteFile))
        {
            throw new BackupException($"There is already a database at {setup.SqliteFile}; restore only where there is none.");
        }
        if (setup.Postgres && await HasTablesAsync(setup.ConnectionString!, ct))
        {
            throw new BackupException("The PostgreSQL database in ConnectionStrings:Default already has tables; restore into an empty database.");
        }

        var staging = Directory.CreateTempSubdirectory("proofsheet-restore-").FullName;
        try
        {
            Manifest? manifest = null;
            var files = 0;
            await using (var input = File.OpenRead(file))
            await using (var gzip = new GZipStream(input, CompressionMode.Decompress))
            await using (var tar = new TarReader(gzip))
            {
                while (await tar.GetNextEntryAsync(copyData: false, ct) is { } entry)
                {
                    if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                    {
                        continue;
                    }
                    var target = entry.Name switch
                    {
                        "manifest.json" or SqliteEntry or PostgresEntry => AppPaths.Inside(staging, entry.Name),
                        _ when entry.Name.StartsWith("data/", StringComparison.Ordinal) => AppPaths.Inside(setup.Paths.DataDirectory, entry.Name["data/".Length..]),
                        _ when entry.Name.StartsWith("previews/", StringComparison.Ordinal) && !setup.PreviewsInS3 => AppPaths.Inside(setup.Paths.PreviewDirectory, entry.Name["previews/".Length..]),
                        _ => null,
                    };
                    if (target is null)
                    {
                        continue;
                    }
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    await entry.ExtractToFileAsync(target, overwrite: false, ct);
                    files++;
                }
            }
            var manifestFile = Path.Combine(staging, "manifest.json");
            manifest = File.Exists(manifestFile) ? JsonSerializer.Deserialize<Manifest>(await File.ReadAllTextAsync(manifestFile, ct)) : null;
            if (manifest is null || manifest.Version > FormatVersion)
            {
                throw new BackupException("This file is not a Proofsheet backup this release can read.");
            }
            if ((manifest.Database == "postgres") != setup.Postgres)
            {
                throw new BackupException($"The backup holds a {manifest.Database} database, but Database:Provider is {(setup.Postgres ? "postgres" : "sqlite")}.");
            }
            if (setup.Postgres)
            {
                await PgAsync("pg_restore", setup, ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", Path.Combine(staging, PostgresEntry)], ct);
            }
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(setup.SqliteFile)!);
                File.Copy(Path.Combine(staging, SqliteEntry), setup.SqliteFile, overwrite: false);
            }
            return $"{manifest.Database} database of {manifest.CreatedAt:u} and {files - 2} files";
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    private static void RequireEmpty(string folder, string what)
    {
        if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
        {
            throw new BackupException($"The {what} {folder} is not empty; restore only into an empty one, so nothing is overwritten.");
        }
    }

    private static async Task<int> AddFolderAsync(TarWriter tar, string folder, string prefix, Func<string, bool> skip, CancellationToken ct)
    {
        if (!Directory.Exists(folder))
        {
            return 0;
        }
        var count = 0;
        foreach (var path in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            // Writes in progress (the stores write a hidden or ".partial" file, then rename it): their
            // rows are committed only after the rename, so the snapshot does not name them.
            if (skip(path) || Path.GetFileName(path).StartsWith('.') || path.EndsWith(".partial", StringComparison.Ordinal))
            {
                continue;
            }
            var name = prefix + "/" + Path.GetRelativePath(folder, path).Replace(Path.DirectorySeparatorChar, '/');
            try
            {
                await tar.WriteEntryAsync(path, name, ct);
                count++;
            }
            catch (FileNotFoundException)
            {
                // Deleted since it was listed (a sweep, a discard, a published preview): the snapshot
                // either no longer names it or has its published copy.
            }
        }
        return count;
    }

    private static async Task<bool> HasTablesAsync(string connectionString, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()", connection);
        return (long)(await command.ExecuteScalarAsync(ct))! > 0;
    }

    /// <summary>Runs pg_dump or pg_restore against the configured database; the password goes in the environment, never on the command line.</summary>
    private static async Task PgAsync(string tool, Setup setup, string[] arguments, CancellationToken ct)
    {
        var csb = new NpgsqlConnectionStringBuilder(setup.ConnectionString);
        var start = new ProcessStartInfo(setup.PgTool(tool)) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.ArgumentList.Add("--dbname=" + csb.Database);
        start.Environment["PGHOST"] = csb.Host;
        start.Environment["PGPORT"] = csb.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["PGUSER"] = csb.Username;
        start.Environment["PGPASSWORD"] = csb.Password ?? "";
        start.Environment["PGSSLMODE"] = csb.SslMode.ToString().ToLowerInvariant() switch { "require" => "require", "verifyca" => "verify-ca", "verifyfull" => "verify-full", "disable" => "disable", _ => "prefer" };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new BackupException($"{tool} could not be started ({ex.Message}). Install PostgreSQL's client tools of the server's major version, or set Backup:PgBin to their folder.");
        }
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync(ct);
            _ = process.StandardOutput.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct);
            if (process.ExitCode != 0)
            {
                throw new BackupException($"{tool} exited with {process.ExitCode}: {(await stderr).Trim()}");
            }
        }
    }

    private sealed record Manifest(int Version, string Database, DateTime CreatedAt, string Previews);

    private sealed record Setup(AppPaths Paths, bool Postgres, string? ConnectionString, string SqliteFile, bool PreviewsInS3, string? PgBin)
    {
        public static Setup From(IConfiguration configuration)
        {
            var paths = new AppPaths(configuration);
            var provider = (configuration["Database:Provider"] ?? "sqlite").Trim().ToLowerInvariant();
            var connectionString = configuration.GetConnectionString("Default");
            var postgres = provider is "postgres" or "postgresql";
            if (postgres && string.IsNullOrWhiteSpace(connectionString))
            {
                throw new BackupException("Database:Provider is postgres but ConnectionStrings:Default is not set.");
            }
            var sqlite = postgres ? "" : Path.GetFullPath(new SqliteConnectionStringBuilder(DataExtensions.SqliteConnectionString(connectionString, paths)).DataSource);
            var s3 = string.Equals(configuration["Storage:Previews:Provider"]?.Trim(), "s3", StringComparison.OrdinalIgnoreCase);
            return new Setup(paths, postgres, connectionString, sqlite, s3, configuration["Backup:PgBin"]);
        }

        /// <summary>The SQLite file and its journal are in the archive as the snapshot, not as live files.</summary>
        public bool SkipInData(string path) =>
            !Postgres && (path == SqliteFile || path == SqliteFile + "-wal" || path == SqliteFile + "-shm" || path == SqliteFile + "-journal"
                || path.EndsWith(".lock", StringComparison.Ordinal));

        public string PgTool(string tool) => string.IsNullOrWhiteSpace(PgBin) ? tool : Path.Combine(PgBin, tool);
    }
}

public sealed class BackupException(string message) : Exception(message);
