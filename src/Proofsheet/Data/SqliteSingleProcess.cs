using Microsoft.Data.Sqlite;

namespace Proofsheet.Data;

/// <summary>
/// SQLite is the single-node database: task leases, live events and rate limits are only shared
/// through PostgreSQL. A second process on the same database file would run every task twice, so
/// it is refused at start. The lock is an exclusive advisory lock on a file beside the database,
/// held for the life of the process and released by the kernel when the process dies.
/// </summary>
public sealed class SqliteSingleProcess(string connectionString) : IDisposable
{
    private FileStream? _lock;

    public void Acquire()
    {
        if (_lock is not null)
        {
            return;
        }
        var dataSource = new SqliteConnectionStringBuilder(connectionString).DataSource;
        if (string.IsNullOrEmpty(dataSource) || dataSource == ":memory:")
        {
            return;
        }
        var path = Path.GetFullPath(dataSource) + ".lock";
        try
        {
            // FileShare.None takes flock(LOCK_EX | LOCK_NB) on Unix (and a share lock on Windows).
            _lock = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
        }
        catch (IOException)
        {
            throw new InvalidOperationException(
                $"Another Proofsheet process is already using the SQLite database {dataSource}. SQLite serves one node: " +
                "stop the other process, or run several nodes on PostgreSQL (Database:Provider=postgres; see docs/deploy.md).");
        }
    }

    public void Dispose()
    {
        _lock?.Dispose();
        _lock = null;
    }
}
