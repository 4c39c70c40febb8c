using System.Threading.Channels;

namespace Proofsheet.Webhooks;

/// <summary>Wakes the dispatcher after a commit that queued deliveries, so they go out now rather than at the next poll.</summary>
public sealed class WebhookSignal
{
    // One pending wake-up is enough: the dispatcher delivers everything due each time it wakes.
    private readonly Channel<bool> _channel = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Notify() => _channel.Writer.TryWrite(true);

    internal async Task WaitAsync(TimeSpan max, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(max);
        try
        {
            await _channel.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }
    }
}
