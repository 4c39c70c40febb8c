using System.Collections.Concurrent;
using System.Threading.Channels;
using Proofsheet.Cluster;

namespace Proofsheet.Tasks;

/// <summary>
/// Wakes the worker for a task id. The durable state is the task row; this queue only says
/// "look at it now". Tracks which tasks run on this node so a cancel can stop work in flight.
/// </summary>
public sealed class TaskQueue(IClusterBus bus)
{
    private readonly Channel<string> _channel = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = false });
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _running = new();
    private readonly ConcurrentDictionary<string, byte> _queued = new();
    private readonly ConcurrentDictionary<string, byte> _again = new();

    public ChannelReader<string> Reader => _channel.Reader;

    public void Enqueue(string taskId)
    {
        if (_running.ContainsKey(taskId))
        {
            // Picked up again as soon as the current run ends.
            _again[taskId] = 0;
            return;
        }
        if (_queued.TryAdd(taskId, 0))
        {
            _channel.Writer.TryWrite(taskId);
        }
    }

    public bool IsBusy(string taskId) => _running.ContainsKey(taskId) || _queued.ContainsKey(taskId);

    /// <summary>Claims the task for one runner; null if another runner has it.</summary>
    public CancellationTokenSource? TryStart(string taskId, CancellationToken stopping)
    {
        _queued.TryRemove(taskId, out _);
        var cts = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        if (_running.TryAdd(taskId, cts))
        {
            return cts;
        }
        cts.Dispose();
        _again[taskId] = 0;
        return null;
    }

    /// <returns>True when the task was asked for again while it ran.</returns>
    public bool Finish(string taskId)
    {
        if (_running.TryRemove(taskId, out var cts))
        {
            cts.Dispose();
        }
        return _again.TryRemove(taskId, out _);
    }

    /// <summary>Abandons the work in flight for a task (after its row says cancelled), on whichever node runs it.</summary>
    public void Cancel(string taskId)
    {
        CancelLocal(taskId);
        bus.Send(new ClusterMessage(ClusterMessage.Cancel, taskId));
    }

    public void CancelLocal(string taskId)
    {
        if (_running.TryGetValue(taskId, out var cts))
        {
            try
            {
                cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }
}
