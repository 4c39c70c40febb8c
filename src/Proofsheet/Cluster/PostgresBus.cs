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
    /// <summary>
    /// A larger message (a streamed draft, a live preview image) goes out in parts of one transaction and
    /// is put together again by each receiver; past this size it goes without its data ("look again").
    /// </summary>
    internal const int MaxMessageBytes = 1 << 20;
    internal const string PartKind = "part";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly Channel<ClusterMessage> _outbox = System.Threading.Channels.Channel.CreateBounded<ClusterMessage>(
        new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    /// <summary>Queues the message; it is encoded by the sender loop, not on the caller's path.</summary>
    public void Send(ClusterMessage message) => _outbox.Writer.TryWrite(message with { Origin = node.Id });

    /// <summary>What arrives from another node: the data as the JSON it was sent as, or one part of a larger message.</summary>
    internal sealed record Received(string Kind, string? TaskId, string? Type, JsonElement? Data, string? Origin)
    {
        public string? Id { get; init; }
        public int Seq { get; init; }
        public int Count { get; init; }
        public string? Chunk { get; init; }
    }

    /// <summary>One piece of a message too large for one NOTIFY.</summary>
    private sealed record Part(string Kind, string Id, int Seq, int Count, string Chunk, string? Origin);

    private readonly PartAssembler _parts = new();

    /// <summary>
    /// The message as NOTIFY payloads: one when it fits, else its JSON cut into parts that each fit
    /// (so another node's page gets the same draft or preview); past <see cref="MaxMessageBytes"/> it is
    /// sent without its data, which receivers treat as "this changed, look again".
    /// </summary>
    internal static IReadOnlyList<string> Encode(ClusterMessage message)
    {
        var json = JsonSerializer.Serialize(message, Json);
        var bytes = Encoding.UTF8.GetByteCount(json);
        if (bytes <= MaxPayloadBytes)
        {
            return [json];
        }
        if (bytes > MaxMessageBytes)
        {
            return [JsonSerializer.Serialize(message with { Data = null }, Json)];
        }
        var chunks = new List<string>();
        for (var at = 0; at < json.Length;)
        {
            // Escaping inside the envelope can grow a piece (quotes, control characters): halve until it fits.
            var size = Math.Min(3800, json.Length - at);
            while (true)
            {
                if (size < json.Length - at && char.IsHighSurrogate(json[at + size - 1]))
                {
                    size--; // never split a surrogate pair
                }
                var piece = json.Substring(at, size);
                if (Encoding.UTF8.GetByteCount(JsonSerializer.Serialize(new Part(PartKind, "x", 0, 0, piece, message.Origin), Json)) + 64 <= MaxPayloadBytes)
                {
                    chunks.Add(piece);
                    at += size;
                    break;
                }
                size /= 2;
            }
        }
        var id = Guid.NewGuid().ToString("N");
        return chunks.Select((c, i) => JsonSerializer.Serialize(new Part(PartKind, id, i, chunks.Count, c, message.Origin), Json)).ToList();
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
            if (message is null || message.Origin == node.Id)
            {
                return;
            }
            if (message.Kind == PartKind)
            {
                if (_parts.Add(message) is { } whole)
                {
                    Receive(whole);
                }
                return;
            }
            handler.Handle(message);
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
                        // All parts of one message go in one batch: one transaction, delivered together and in order.
                        batch.AddRange(Encode(message));
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

/// <summary>
/// Puts parts back together. A message's parts arrive together (one transaction), so only a few are
/// ever open; one whose rest never came (a sender that died mid-batch) is dropped after a while.
/// </summary>
internal sealed class PartAssembler
{
    private const int MaxOpen = 64;
    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(30);
    private readonly Dictionary<string, (string?[] Chunks, int Received, DateTime Started)> _open = [];
    private readonly Lock _lock = new();

    /// <returns>The whole message's JSON once its last part is in; null until then (or for a part that makes no sense).</returns>
    public string? Add(PostgresBus.Received part)
    {
        if (part.Id is null || part.Chunk is null || part.Count is < 1 or > 10_000 || part.Seq < 0 || part.Seq >= part.Count)
        {
            return null;
        }
        lock (_lock)
        {
            var now = DateTime.UtcNow;
            foreach (var stale in _open.Where(o => now - o.Value.Started > MaxAge || _open.Count > MaxOpen).Select(o => o.Key).ToList())
            {
                _open.Remove(stale);
            }
            if (!_open.TryGetValue(part.Id, out var entry))
            {
                entry = (new string?[part.Count], 0, now);
            }
            if (entry.Chunks.Length != part.Count || entry.Chunks[part.Seq] is not null)
            {
                return null;
            }
            entry.Chunks[part.Seq] = part.Chunk;
            entry.Received++;
            if (entry.Received < part.Count)
            {
                _open[part.Id] = entry;
                return null;
            }
            _open.Remove(part.Id);
            return string.Concat(entry.Chunks);
        }
    }
}
