using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using Proofsheet.Images;

namespace Proofsheet.Cluster;

/// <summary>
/// One job per GPU server across every node: a PostgreSQL advisory lock keyed by the server's
/// address, held on its own connection for the length of the job. A node that dies drops its
/// connection and with it the lock. Jobs of this node first queue in-process, so a waiting job
/// holds no database connection.
/// </summary>
public sealed class PostgresServerSlots(NpgsqlDataSource dataSource) : IServerSlots
{
    private readonly InProcessServerSlots _local = new();

    public async ValueTask<IAsyncDisposable> AcquireAsync(Uri server, CancellationToken ct)
    {
        var local = await _local.AcquireAsync(server, ct);
        try
        {
            var connection = await dataSource.OpenConnectionAsync(ct);
            try
            {
                await using var command = new NpgsqlCommand("SELECT pg_advisory_lock($1)", connection) { Parameters = { new() { Value = KeyOf(server) } } };
                await command.ExecuteNonQueryAsync(ct);
                return new Held(local, connection, KeyOf(server));
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }
        }
        catch
        {
            await local.DisposeAsync();
            throw;
        }
    }

    public async ValueTask<IAsyncDisposable?> TryAcquireAsync(Uri server, CancellationToken ct)
    {
        if (await _local.TryAcquireAsync(server, ct) is not { } local)
        {
            return null;
        }
        NpgsqlConnection? connection = null;
        try
        {
            connection = await dataSource.OpenConnectionAsync(ct);
            await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock($1)", connection) { Parameters = { new() { Value = KeyOf(server) } } };
            if (await command.ExecuteScalarAsync(ct) is true)
            {
                return new Held(local, connection, KeyOf(server));
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException)
        {
            // Treated as busy: the caller queues with AcquireAsync, which reports a real outage.
        }
        if (connection is not null)
        {
            await connection.DisposeAsync();
        }
        await local.DisposeAsync();
        return null;
    }

    /// <summary>A stable 64-bit lock key for a server address, the same on every node.</summary>
    internal static long KeyOf(Uri server) =>
        BinaryPrimitives.ReadInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes("proofsheet-gpu-server:" + server.AbsoluteUri)));

    private sealed class Held(IAsyncDisposable local, NpgsqlConnection connection, long key) : IAsyncDisposable
    {
        private int _done;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0)
            {
                return;
            }
            try
            {
                await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", connection) { Parameters = { new() { Value = key } } };
                await command.ExecuteNonQueryAsync(CancellationToken.None);
            }
            catch (NpgsqlException)
            {
                // The connection is broken: PostgreSQL released the lock with it.
            }
            finally
            {
                await connection.DisposeAsync();
                await local.DisposeAsync();
            }
        }
    }
}
