using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Npgsql;

namespace Proofsheet.Cluster;

/// <summary>
/// PostgreSQL LISTEN/NOTIFY between nodes. One connection listens for the life of the process
/// (reconnecting after an outage); sends go through a queue to a single sender, so the pipeline
/// never waits on the network and messages leave in the order they were made.
/// </summary>
public sealed class PostgresBus(
    NpgsqlDataSource dataSource,
    NodeIdentity node,
    ClusterMessageHandler handler,
    ILogger<PostgresBus> logger) : BackgroundService, IClusterBus
{
    public const string Channel = "proofsheet";
    /// <summary>PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more.</summary>
    internal const int MaxPayloadBytes = 7900;

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly Channel<ClusterMessage> _outbox = System.Threading.Channels.Channel.CreateBounded<ClusterMessage>(
        new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    /// <summary>Queues the message; it is encoded by the sender loop, not on the caller's path.</summary>
    public void Send(ClusterMessage message) => _outbox.Writer.TryWrite(message with { Origin = node.Id });

    /// <summary>What arrives from another node: the data as the JSON it was sent as.</summary>
    internal sealed record Received(string Kind, string? TaskId, string? Type, JsonElement? Data, string? Origin);

    /// <summary>
    /// The message as JSON, within NOTIFY's limit: an oversized payload is sent without its data,
    /// which receivers treat as "this changed, look again".
    /// </summary>
    internal static string Encode(ClusterMessage message)
    {
        var json = JsonSerializer.Serialize(message, Json);
        return Encoding.UTF8.GetByteCount(json) <= MaxPayloadBytes ? json : JsonSerializer.Serialize(message with { Data = null }, Json);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(ListenAsync(stoppingToken), SendAsync(stoppingToken));

    private async Task ListenAsync(CancellationToken ct)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(ct);
                connection.Notification += (_, e) => Receive(e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(ct);
                }
                delay = TimeSpan.FromMilliseconds(250);
                while (!ct.IsCancellationRequested)
                {
                    await connection.WaitAsync(ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Messages sent while no connection listens are missed; pages fetch their state
                // again when their event stream reconnects, and the poll finds due work.
                logger.LogWarning("Listening for other nodes failed ({Reason}); trying again in {Delay}", ex.Message, delay);
                try
                {
                    await Task.Delay(delay, ct);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private void Receive(string payload)
    {
        try
        {
            var message = JsonSerializer.Deserialize<Received>(payload, Json);
            if (message is not null && message.Origin != node.Id)
            {
                handler.Handle(message);
            }
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "A message from another node could not be handled");
        }
    }

    private async Task SendAsync(CancellationToken ct)
    {
        var batch = new List<string>();
        try
        {
            while (await _outbox.Reader.WaitToReadAsync(ct))
            {
                while (batch.Count < 100 && _outbox.Reader.TryRead(out var message))
                {
                    try
                    {
                        batch.Add(Encode(message));
                    }
                    catch (Exception ex) when (ex is NotSupportedException or JsonException)
                    {
                        logger.LogWarning("A {Kind} message could not be put into words for other nodes: {Reason}", message.Kind, ex.Message);
                    }
                }
                try
                {
                    await using var command = dataSource.CreateBatch();
                    foreach (var payload in batch)
                    {
                        command.BatchCommands.Add(new NpgsqlBatchCommand("SELECT pg_notify($1, $2)")
                        {
                            Parameters = { new() { Value = Channel }, new() { Value = payload } },
                        });
                    }
                    await command.ExecuteNonQueryAsync(ct);
                }
                catch (Exception ex) when (!ct.IsCancellationRequested)
                {
                    // Live messages are a courtesy on top of the database's state: drop, never block.
                    logger.LogWarning("Telling other nodes failed ({Reason}); {Count} live messages dropped", ex.Message, batch.Count);
                }
                batch.Clear();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
