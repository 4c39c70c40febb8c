using System.Reflection;
using System.Security.Cryptography;

namespace Proofsheet.Cluster;

public sealed class ClusterOptions
{
    public const string Section = "Cluster";
    /// <summary>This process's name among the nodes; by default the host name, process id and a random suffix.</summary>
    public string? NodeId { get; set; }
}

/// <summary>Who this process is among the nodes: the owner written on the task leases it takes.</summary>
public sealed class NodeIdentity
{
    public NodeIdentity(string? configuredId)
    {
        Host = Environment.MachineName;
        // A restarted process is a new node: its predecessor's leases expire instead of being
        // silently inherited, and two test hosts in one process are two nodes.
        Id = string.IsNullOrWhiteSpace(configuredId)
            ? $"{Host}-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}"
            : configuredId.Trim();
    }

    public string Id { get; }
    public string Host { get; }

    public static string Version { get; } =
        typeof(NodeIdentity).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
}
