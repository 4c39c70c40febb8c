using System.Collections.Concurrent;
using System.Threading.Channels;
using Proofsheet.Cluster;

namespace Proofsheet.Tasks;

/// <summary>A live message about a task, sent to server-sent-event listeners.</summary>
/// <param name="Type"><c>status</c>, <c>progress</c>, <c>image</c> or <c>event</c>.</param>
public sealed record TaskStreamMessage(string Type, object Data);

public sealed record ProgressData(int Done, int Total, string? Step, string Stage);

/// <summary>
/// Fan-out of live task messages (status changes, generation progress) to this node's listeners,
/// and through the cluster bus to every other node's. The durable record is the task_events
/// table; this only carries what happens while someone is watching.
/// </summary>
public sealed class TaskEventStream(IClusterBus bus)
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<Channel<TaskStreamMessage>, byte>> _subscribers = new();
    private readonly ConcurrentDictionary<string, ProgressData> _progress = new();
    // The draft so far while a writer streams it: a page that subscribes after the first pieces were sent
    // (or that reloads) starts from it instead of from an empty box until the next piece.
    private readonly ConcurrentDictionary<string, DraftText> _drafts = new();
    private readonly ConcurrentDictionary<string, Images.LivePreview> _previews = new();

    public void Publish(string taskId, TaskStreamMessage message)
    {
        PublishLocal(taskId, message);
        bus.Send(new ClusterMessage(ClusterMessage.TaskMessage, taskId, message.Type, message.Data));
    }

    /// <summary>Delivers to this node's listeners only (what another node announced arrives here).</summary>
    public void PublishLocal(string taskId, TaskStreamMessage message)
    {
        if (message.Data is ProgressData progress)
        {
            _progress[taskId] = progress;
        }
        else if (message.Data is DraftText draft)
        {
            _drafts[taskId] = draft;
        }
        else if (message.Data is Images.LivePreview preview)
        {
            _previews[taskId] = preview;
        }
        else if (message.Type == "status")
        {
            _progress.TryRemove(taskId, out _);
            _drafts.TryRemove(taskId, out _);
            _previews.TryRemove(taskId, out _);
        }
        if (_subscribers.TryGetValue(taskId, out var channels))
        {
            foreach (var channel in channels.Keys)
            {
                channel.Writer.TryWrite(message);
            }
        }
    }

    public void Progress(string taskId, ProgressData progress) => Publish(taskId, new TaskStreamMessage("progress", progress));

    /// <summary>The last progress reported for a task whose images are being generated, if any.</summary>
    public ProgressData? CurrentProgress(string taskId) => _progress.GetValueOrDefault(taskId);

    /// <summary>The draft as far as the writer has streamed it, while the task is being written.</summary>
    public DraftText? CurrentDraft(string taskId) => _drafts.GetValueOrDefault(taskId);
    /// <summary>
    /// The last live preview of an image being generated for the task, if any: a page opened (or a live
    /// part drawn) mid-render shows it at once rather than after the server's next preview.
    /// </summary>
    public Images.LivePreview? CurrentPreview(string taskId) => _previews.GetValueOrDefault(taskId);

    public Subscription Subscribe(string taskId)
    {
        // Bounded and dropping the oldest: a slow listener misses progress ticks, never blocks the pipeline.
        var channel = Channel.CreateBounded<TaskStreamMessage>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest });
        _subscribers.GetOrAdd(taskId, _ => new()).TryAdd(channel, 0);
        return new Subscription(channel.Reader, () =>
        {
            if (_subscribers.TryGetValue(taskId, out var set))
            {
                set.TryRemove(channel, out _);
            }
        });
    }

    public sealed class Subscription(ChannelReader<TaskStreamMessage> reader, Action unsubscribe) : IDisposable
    {
        public ChannelReader<TaskStreamMessage> Reader { get; } = reader;

        public void Dispose() => unsubscribe();
    }
}
