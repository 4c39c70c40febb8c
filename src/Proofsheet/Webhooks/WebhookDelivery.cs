namespace Proofsheet.Webhooks;

/// <summary>
/// One event for one receiver: the outbox row, written in the same transaction as the change it
/// announces, so an event is never lost to a crash between commit and send. Due while
/// <see cref="NextAttemptAt"/> is set and past; delivered when <see cref="DeliveredAt"/> is set;
/// dead (given up after the last attempt) when neither is set.
/// </summary>
public sealed class WebhookDelivery
{
    public required string Id { get; init; }
    public required string Url { get; init; }
    public required string Event { get; init; }
    /// <summary>The exact body sent, signed byte for byte; fixed at creation so every retry carries the same signature.</summary>
    public required string Payload { get; init; }
    public int Attempts { get; set; }
    public DateTime? NextAttemptAt { get; set; }
    public DateTime? DeliveredAt { get; set; }
    public string? LastError { get; set; }
    public DateTime CreatedAt { get; init; }
}
