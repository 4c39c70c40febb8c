namespace Proofsheet.Email;

/// <summary>
/// One email in the outbox. It is written in the same transaction as what it tells of, and sent
/// later by <see cref="EmailSender"/>, so a slow or failing mail server never holds up the workflow.
/// </summary>
public sealed class EmailMessage
{
    public required string Id { get; init; }
    public required string To { get; init; }
    public required string Subject { get; init; }
    public required string Body { get; init; }
    public string? TaskId { get; init; }
    /// <summary>What the message is about (awaiting_approval, failed, published, assigned), for the Hub and the tests.</summary>
    public required string Kind { get; init; }
    public DateTime CreatedAt { get; init; }
    /// <summary>Null once sent or given up.</summary>
    public DateTime? NextAttemptAt { get; set; }
    public int Attempts { get; set; }
    public DateTime? SentAt { get; set; }
    public string? LastError { get; set; }
}
