using Microsoft.AspNetCore.Diagnostics;

namespace Proofsheet.Images;

/// <summary>A request that needs the preview store while it does not answer gets a 503 to retry, not a 500.</summary>
internal sealed class PreviewStoreUnavailableHandler(IProblemDetailsService problems, ILogger<PreviewStoreUnavailableHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not PreviewStoreException)
        {
            return false;
        }
        logger.LogWarning("The preview store is unavailable: {Reason}", exception.Message);
        return await Problems.WriteUnavailableAsync(context, problems, 5,
            "The store that keeps the candidate images is not reachable right now. Try again shortly.");
    }
}
