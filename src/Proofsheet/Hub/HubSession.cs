using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace Proofsheet.Hub;

/// <summary>
/// What happens when the Hub session has ended (logged out in another tab, expired): a live
/// update must not draw the login page inside the task page, and a form post must come back to
/// its task, not to the action's address, after signing in again.
/// </summary>
public static class HubSession
{
    public const string SignedOutHeader = "X-Proofsheet-Signed-Out";

    public static void Configure(CookieAuthenticationOptions options)
    {
        var redirect = options.Events.OnRedirectToLogin;
        options.Events.OnRedirectToLogin = context =>
        {
            var request = context.Request;
            // htmx fragments and the event stream: a plain 401 the page answers with its own notice (hub.js).
            if (request.Headers.ContainsKey("HX-Request") || request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.Ordinal))
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.Headers[SignedOutHeader] = "1";
                return Task.CompletedTask;
            }
            if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
            {
                context.Response.Redirect($"/hub/login?expired=1&returnUrl={Uri.EscapeDataString(PageOf(request.Path))}");
                return Task.CompletedTask;
            }
            return redirect(context);
        };
    }

    /// <summary>The page a form was posted from: the task for a task action, else the list.</summary>
    internal static string PageOf(PathString path)
    {
        var parts = path.Value?.Split('/', StringSplitOptions.RemoveEmptyEntries) ?? [];
        return parts is ["hub", "tasks", var id, ..] && Ids.IsValid(id) ? HubUrls.Task(id)
            : parts is ["hub", var section, ..] && section is "queue" or "gallery" or "posts" ? "/hub/" + section
            : "/hub/tasks";
    }
}
