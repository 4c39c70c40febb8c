namespace Proofsheet.Cluster;

/// <summary>A running Proofsheet process, as its heartbeats tell the others (and the Hub's health page).</summary>
public sealed class Node
{
    public required string Id { get; init; }
    public required string Host { get; set; }
    public string? Version { get; set; }
    public DateTime StartedAt { get; set; }
    public DateTime HeartbeatAt { get; set; }
}

/// <summary>
/// A fixed-window counter shared by every node: the login throttle and the generation rate limit
/// count here, so a client cannot multiply its allowance by the number of nodes.
/// </summary>
public sealed class RateCounter
{
    public required string Key { get; init; }
    /// <summary>Start of the current window, in Unix seconds (an integer compares the same on both databases).</summary>
    public long WindowStart { get; set; }
    public int Count { get; set; }
}
