using Microsoft.AspNetCore.Antiforgery;
using Proofsheet.People;
using Proofsheet.Tasks;

namespace Proofsheet.Hub;

/// <summary>Assigning a task to a reviewer, and the task's comment thread.</summary>
public static partial class HubEndpoints
{
    private static RouteGroupBuilder MapHubTeamwork(this RouteGroupBuilder hub)
    {
        hub.MapPost("/tasks/{id}/assign", AssignAsync);
        hub.MapPost("/tasks/{id}/comments", CommentAsync).Allow(Access.Member);
        foreach (var action in (string[])["assign", "comments"])
        {
            hub.MapGet($"/tasks/{{id}}/{action}", (string id) => TypedResults.Redirect(Ids.IsValid(id) ? HubUrls.Task(id) : "/hub/tasks")).Allow(Access.Member);
        }
        return hub;
    }

    private static async Task<IResult> AssignAsync(string id, HttpContext http, TaskActions actions)
    {
        var form = http.Request.HasFormContentType ? await http.Request.ReadFormAsync(http.RequestAborted) : null;
        var person = form?["person_id"].ToString();
        return await ActAsync(id, http, (taskId, actor, ct) => actions.AssignAsync(taskId, string.IsNullOrEmpty(person) ? null : person, actor, ct));
    }

    private static async Task<IResult> CommentAsync(string id, HttpContext http, TaskActions actions)
    {
        var form = http.Request.HasFormContentType ? await http.Request.ReadFormAsync(http.RequestAborted) : null;
        var text = form?["text"].ToString();
        return await ActAsync(id, http, (taskId, actor, ct) => actions.CommentAsync(taskId, text, actor, ct));
    }
}
