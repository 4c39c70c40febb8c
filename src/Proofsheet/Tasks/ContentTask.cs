namespace Proofsheet.Tasks;

public enum WorkflowStatus
{
    Queued,
    Writing,
    GeneratingImages,
    AwaitingApproval,
    Publishing,
    /// <summary>Approved with a time to go live: the image is uploaded, the post waits for the time.</summary>
    Scheduled,
    Published,
    Rejected,
    Cancelled,
    Failed,
}

public static class WorkflowStatuses
{
    /// <summary>Statuses in which the pipeline owes the task more work; picked up again after a restart.</summary>
    public static readonly WorkflowStatus[] Working =
        [WorkflowStatus.Queued, WorkflowStatus.Writing, WorkflowStatus.GeneratingImages, WorkflowStatus.Publishing];

    public static bool IsWorking(this WorkflowStatus status) => Array.IndexOf(Working, status) >= 0;

    public static bool IsFinal(this WorkflowStatus status) =>
        status is WorkflowStatus.Published or WorkflowStatus.Rejected or WorkflowStatus.Cancelled;

    public static string ToWire(this WorkflowStatus status) => status switch
    {
        WorkflowStatus.Queued => "queued",
        WorkflowStatus.Writing => "writing",
        WorkflowStatus.GeneratingImages => "generating_images",
        WorkflowStatus.AwaitingApproval => "awaiting_approval",
        WorkflowStatus.Publishing => "publishing",
        WorkflowStatus.Scheduled => "scheduled",
        WorkflowStatus.Published => "published",
        WorkflowStatus.Rejected => "rejected",
        WorkflowStatus.Cancelled => "cancelled",
        WorkflowStatus.Failed => "failed",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };

    public static bool TryParse(string? wire, out WorkflowStatus status)
    {
        foreach (var s in Enum.GetValues<WorkflowStatus>())
        {
            if (string.Equals(s.ToWire(), wire, StringComparison.Ordinal))
            {
                status = s;
                return true;
            }
        }
        status = default;
        return false;
    }

    public static WorkflowStatus Parse(string wire) =>
        TryParse(wire, out var s) ? s : throw new FormatException($"Unknown task status '{wire}'.");
}

/// <summary>
/// One request for a post, and the durable record of how far the pipeline has taken it.
/// The row is the job: status, attempts, next attempt and error live here (Sonarr-style).
/// </summary>
public sealed class ContentTask : IHasId
{
    public required string Id { get; init; }
    public required string Topic { get; set; }
    public string? Tone { get; set; }
    public string? Audience { get; set; }
    public int TargetWords { get; set; }
    public int NumVariations { get; set; }
    public string? ImageSource { get; set; }

    public WorkflowStatus Status { get; set; }
    /// <summary>The working status a failed task failed in: where a retry resumes.</summary>
    public WorkflowStatus? FailedStatus { get; set; }
    public string? Error { get; set; }
    public int Attempts { get; set; }
    public DateTime? NextAttemptAt { get; set; }
    /// <summary>The node running a step of this task, until <see cref="LeaseExpiresAt"/>; null when no node is.</summary>
    public string? LeaseOwner { get; set; }
    public DateTime? LeaseExpiresAt { get; set; }

    public string? Title { get; set; }
    public string? Slug { get; set; }
    public string? Excerpt { get; set; }
    public string? Content { get; set; }
    public string? MetaDescription { get; set; }
    public string? Keywords { get; set; }
    public string? ImagePrompt { get; set; }
    public string? ImageAlt { get; set; }
    public string? WriterName { get; set; }
    public string? WriterModel { get; set; }
    public int? InputTokens { get; set; }
    public int? OutputTokens { get; set; }

    public string? PostId { get; set; }

    /// <summary>Candidates the generating stage still owes; decremented with each saved candidate.</summary>
    public int ImagesPending { get; set; }
    /// <summary>Next variation number to hand out; numbers are reserved before generation so none is reused.</summary>
    public int NextVariation { get; set; } = 1;
    public string? SelectedImageId { get; set; }
    /// <summary>The generation new images belong to; see <see cref="Images.ImageCandidate.Round"/>.</summary>
    public int Round { get; set; } = 1;
    /// <summary>What the reviewer's feedback asked to avoid, added to the backend's negative prompt.</summary>
    public string? NegativeHint { get; set; }
    /// <summary>
    /// Feedback a model writer has yet to turn into a new image prompt: set by a reject that starts a new
    /// round, used and cleared by the pipeline before it draws that round.
    /// </summary>
    public string? PromptFeedback { get; set; }
    /// <summary>
    /// The settings the pending images are drawn with ("more like this": one candidate's source, size and
    /// negative prompt), as JSON of <see cref="PendingImageSettings"/>; null: the task's and <c>Images:*</c>.
    /// </summary>
    public string? PendingSettings { get; set; }

    /// <summary>When an approved post goes live (UTC); null: as soon as its image is uploaded.</summary>
    public DateTime? PublishAt { get; set; }

    public string? ApprovedBy { get; set; }
    public DateTime? ApprovedAt { get; set; }

    /// <summary>The person who asked for the post (null for tasks from before people, or from the system): told when it is published.</summary>
    public string? CreatedBy { get; set; }
    /// <summary>The person asked to review it; a reviewer may approve or reject only what is assigned to them.</summary>
    public string? AssigneeId { get; set; }

    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public long Version { get; set; }
}

/// <summary>Something that happened to a task: a status change, a generation, an edit, a decision.</summary>
public sealed class TaskEvent
{
    public long Id { get; set; }
    public required string TaskId { get; init; }
    public DateTime At { get; init; }
    public required string Actor { get; init; }
    public required string Kind { get; init; }
    public string? FromStatus { get; init; }
    public string? ToStatus { get; init; }
    public string? Detail { get; init; }
    /// <summary>The node that recorded it: with several nodes, where a step ran.</summary>
    public string? Node { get; set; }
}
