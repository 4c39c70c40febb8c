using Proofsheet.Images;
using Proofsheet.Posts;

namespace Proofsheet.Tasks;

/// <param name="LocalPath">The preview's path on the server with the <c>local</c> preview store; null with
/// <c>s3</c> (there is no file) and once the preview is deleted. Fetch the image at <paramref name="PreviewUrl"/>.</param>
public sealed record ImageVariationResponse(
    int Index, string ImageId, string? LocalPath, string Filename, string PreviewUrl, string Source,
    ulong? Seed, int Width, int Height, string ContentType, long ByteSize, string Sha256, string Prompt,
    string? NegativePrompt, DateTime GeneratedAt, double GenerationTime, string Status, bool Selected,
    string? CdnUrl, ImageAttributionResponse? Attribution, string? Model, int Stars, int Round, DateTime? TrashedAt,
    double? FocusX = null, double? FocusY = null);

public sealed record ImageAttributionResponse(string Name, string? Url, string? SourceUrl);

/// <param name="LocalPreviewPath">Like <see cref="ImageVariationResponse.LocalPath"/>: null with the <c>s3</c> preview store.</param>
public sealed record TaskMetadata(
    string? FeaturedImageUrl, string? LocalPreviewPath, string? ImageGenerationSource, DateTime? GeneratedAt,
    bool NeedsApproval, bool Approved, IReadOnlyList<ImageVariationResponse> ImageVariations, int? SelectedImageIndex,
    string? Writer, string? WriterModel, int? InputTokens, int? OutputTokens, int ImagesPending, ProgressData? Progress,
    int Round, IReadOnlyList<ImageVariationResponse> Trash);

public sealed record TaskResponse(
    string Id, string Topic, string? Tone, string? Audience, int TargetWords, int NumVariations, string? ImageSource,
    string Status, string? Title, string? Slug, string? Excerpt, string? Content, string? ImagePrompt, string? ImageAlt,
    string? MetaDescription, string? Keywords, string? PostId, string? Error, int Attempts, DateTime? NextAttemptAt,
    string? FailedStatus, DateTime CreatedAt, DateTime UpdatedAt, DateTime? PublishAt, TaskMetadata Metadata,
    string? AssigneeId = null, string? CreatedBy = null);

public sealed record TaskEventResponse(long Id, DateTime At, string Actor, string Kind, string? FromStatus, string? ToStatus, string? Detail, string? Node);

public sealed record PageResponse<T>(IReadOnlyList<T> Items, string? NextCursor);

public static class TaskResponseMapping
{
    public static ImageVariationResponse ToResponse(this ImageCandidate i, IPreviewStore previews) => new(
        i.Variation, i.Id,
        // A path only where there is one: the local store on this node; null for a bucket.
        i.FileDeleted ? null : previews.LocalPathOf(i.FileName),
        i.FileName,
        $"/api/media/images/{i.Id}/file",
        i.Source, i.Seed, i.Width, i.Height, i.ContentType, i.ByteSize, i.Sha256, i.Prompt, i.NegativePrompt,
        i.GeneratedAt, i.GenerationSeconds, i.Status.ToWire(),
        i.Status is CandidateStatus.Selected or CandidateStatus.Published,
        i.CdnUrl,
        i.AttributionName is null ? null : new ImageAttributionResponse(i.AttributionName, i.AttributionUrl, i.SourceUrl),
        i.Model, i.Stars, i.Round, i.TrashedAt, i.FocusX, i.FocusY);

    public static TaskResponse ToResponse(this ContentTask t, Post? post, IReadOnlyList<ImageCandidate> images, IPreviewStore previews, ProgressData? progress)
    {
        var visible = images.Where(i => i.Status != CandidateStatus.Discarded).OrderBy(i => i.Variation).ToList();
        var selected = visible.FirstOrDefault(i => i.Id == t.SelectedImageId);
        var shown = selected ?? visible.LastOrDefault();
        return new TaskResponse(
            t.Id, t.Topic, t.Tone, t.Audience, t.TargetWords, t.NumVariations, t.ImageSource,
            t.Status.ToWire(), t.Title, t.Slug, t.Excerpt, t.Content, t.ImagePrompt, t.ImageAlt, t.MetaDescription, t.Keywords,
            t.PostId, t.Error, t.Attempts, t.NextAttemptAt, t.FailedStatus?.ToWire(), t.CreatedAt, t.UpdatedAt,
            t.Status is WorkflowStatus.Publishing or WorkflowStatus.Scheduled or WorkflowStatus.Published ? t.PublishAt : null,
            new TaskMetadata(
                FeaturedImageUrl: post?.Status == PostStatus.Published && post.TaskId == t.Id ? post.FeaturedImageUrl : null,
                LocalPreviewPath: shown is { FileDeleted: false } ? previews.LocalPathOf(shown.FileName) : null,
                ImageGenerationSource: shown?.Source,
                GeneratedAt: visible.Count == 0 ? null : visible.Max(i => i.GeneratedAt),
                NeedsApproval: t.Status == WorkflowStatus.AwaitingApproval,
                Approved: t.ApprovedAt is not null,
                ImageVariations: visible.Select(i => i.ToResponse(previews)).ToList(),
                SelectedImageIndex: selected?.Variation,
                Writer: t.WriterName, WriterModel: t.WriterModel, InputTokens: t.InputTokens, OutputTokens: t.OutputTokens,
                ImagesPending: t.ImagesPending,
                Progress: progress,
                Round: t.Round,
                // In the trash and still restorable.
                Trash: images.Where(i => i.Status == CandidateStatus.Discarded && i.TrashedAt != null && !i.FileDeleted)
                    .OrderBy(i => i.Variation).Select(i => i.ToResponse(previews)).ToList()),
            t.AssigneeId, t.CreatedBy);
    }

    public static TaskEventResponse ToResponse(this TaskEvent e) => new(e.Id, e.At, e.Actor, e.Kind, e.FromStatus, e.ToStatus, e.Detail, e.Node);
}
