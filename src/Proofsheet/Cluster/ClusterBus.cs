namespace Proofsheet.Cluster;

/// <summary>
/// Something every node must hear about at once: a live task message (status, progress, a new
/// image), a cancel for whichever node runs the task, or "published posts changed" for the output
/// caches. Small on purpose: ids and short payloads, never bodies (a NOTIFY carries 8,000 bytes).
/// </summary>
/// <remarks><see cref="Data"/> is the live message's own object: it is turned into JSON only by a bus
/// that sends it (off the pipeline's path), never on a single node.</remarks>
public sealed record ClusterMessage(string Kind, string? TaskId = null, string? Type = null, object? Data = null)
{
    public const string TaskMessage = "task";
    public const string Cancel = "cancel";
    public const string PostsChanged = "posts";

    /// <summary>The node that sent it; a node ignores its own messages (it acted on them already).</summary>
    public string? Origin { get; init; }
}

/// <summary>
/// The one channel between nodes. Callers act locally first and then <see cref="Send"/> so that
/// the other nodes do the same; with one node (SQLite) there is nobody to tell.
/// </summary>
public interface IClusterBus
{
    void Send(ClusterMessage message);
}

/// <summary>A single node: everything already happened locally.</summary>
public sealed class SingleNodeBus : IClusterBus
{
    public void Send(ClusterMessage message)
    {
    }
}
