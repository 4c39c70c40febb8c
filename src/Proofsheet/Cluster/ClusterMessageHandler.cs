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
                _ = services.GetRequiredService<PublishedPostsChanged>().EvictHereAsync();
                break;
        }
    }

    /// <summary>
    /// Progress, the draft being written and a live preview are typed (the Hub draws them as it does
    /// on the node that made them); other messages are passed on as the JSON they were.
    /// </summary>
    private static object DataOf(PostgresBus.Received message)
    {
        var data = message.Data ?? JsonSerializer.SerializeToElement(new { }, PostgresBus.Json);
        if (message.Data is not { ValueKind: JsonValueKind.Object } typed)
        {
            return data;
        }
        return message.Type switch
        {
            "progress" => typed.Deserialize<ProgressData>(PostgresBus.Json)!,
            "draft" when typed.TryGetProperty("content", out _) => typed.Deserialize<DraftText>(PostgresBus.Json)!,
            "preview" when typed.TryGetProperty("data", out _) => typed.Deserialize<Images.LivePreview>(PostgresBus.Json)!,
            _ => data,
        };
    }
}
