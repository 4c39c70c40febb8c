using System.Text.Json;
using Microsoft.AspNetCore.OutputCaching;
using Proofsheet.Posts;
using Proofsheet.Tasks;

namespace Proofsheet.Cluster;

/// <summary>Does on this node what another node announced: the same live message, cancel or cache eviction.</summary>
public sealed class ClusterMessageHandler(IServiceProvider services)
{
    // Resolved on first use: the stream and queue themselves send through the bus.
    private TaskEventStream Stream => services.GetRequiredService<TaskEventStream>();
    private TaskQueue Queue => services.GetRequiredService<TaskQueue>();

    internal void Handle(PostgresBus.Received message)
    {
        switch (message.Kind)
        {
            case ClusterMessage.TaskMessage when message.TaskId is not null && message.Type is not null:
                Stream.PublishLocal(message.TaskId, new TaskStreamMessage(message.Type, DataOf(message)));
                break;
            case ClusterMessage.Cancel when message.TaskId is not null:
                Queue.CancelLocal(message.TaskId);
                break;
            case ClusterMessage.PostsChanged:
                _ = services.GetRequiredService<IOutputCacheStore>().EvictByTagAsync(PostCache.Tag, CancellationToken.None).AsTask();
                break;
        }
    }

    /// <summary>Progress is typed (pages draw it); other messages are passed on as the JSON they were.</summary>
    private static object DataOf(PostgresBus.Received message)
    {
        var data = message.Data ?? JsonSerializer.SerializeToElement(new { }, PostgresBus.Json);
        return message.Type == "progress" && message.Data is { } progress
            ? progress.Deserialize<ProgressData>(PostgresBus.Json)!
            : data;
    }
}
